-- See migrations/postgres: stop reason and Messages-API transcript of an assistant reply.
ALTER TABLE chat_messages ADD COLUMN stop_reason TEXT;
ALTER TABLE chat_messages ADD COLUMN transcript TEXT;
