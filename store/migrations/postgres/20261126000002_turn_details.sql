-- What the chat loop needs to rebuild a turn for Claude: the stop reason of the reply (refused turns
-- are left out of later context) and the exact Messages-API transcript of the turn.
ALTER TABLE chat_messages ADD COLUMN IF NOT EXISTS stop_reason text;
ALTER TABLE chat_messages ADD COLUMN IF NOT EXISTS transcript jsonb;
