//! Which IP addresses a plugin may never reach through a host name: loopback, private networks,
//! link-local (including the cloud metadata service at 169.254.169.254), and the unspecified,
//! multicast, shared (CGNAT, where some clouds keep their metadata), benchmarking and reserved
//! ranges, and the IPv6 ranges that embed an IPv4 address (6to4, Teredo, NAT64, IPv4-compatible)
//! or are deprecated site-local. Only the private and loopback classes can ever be reached, and
//! only where the operator's policy allows it (`crate::policy`); naming an address literally in an
//! origin opts in to nothing.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not a public one, or `None` for a public (globally routable) address.
pub fn classify(ip: IpAddr) -> Option<AddressClass> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => classify_v4(v4),
            None => classify_v6(v6),
        },
    }
}

/// The kinds of non-public addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressClass {
    Loopback,
    Private,
    LinkLocal,
    /// The cloud metadata service (169.254.169.254, 100.100.100.200, fd00:ec2::254).
    Metadata,
    /// Unspecified, broadcast, multicast, documentation, benchmarking, reserved.
    Special,
}

impl AddressClass {
    pub fn describe(self) -> &'static str {
        match self {
            AddressClass::Loopback => "a loopback address",
            AddressClass::Private => "a private-network address",
            AddressClass::LinkLocal => "a link-local address",
            AddressClass::Metadata => "the cloud metadata service",
            AddressClass::Special => "a reserved address",
        }
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<AddressClass> {
    let [a, b, c, _] = ip.octets();
    if ip == Ipv4Addr::new(169, 254, 169, 254) || ip == Ipv4Addr::new(100, 100, 100, 200) {
        Some(AddressClass::Metadata)
    } else if ip.is_loopback() {
        Some(AddressClass::Loopback)
    } else if ip.is_private() {
        Some(AddressClass::Private)
    } else if ip.is_link_local() {
        Some(AddressClass::LinkLocal)
    } else if ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        // Shared (CGNAT) 100.64.0.0/10: not a private network an operator opts in to; some clouds
        // serve metadata there.
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (b == 18 || b == 19))
        || (a == 192 && b == 0 && c == 0)
    {
        Some(AddressClass::Special)
    } else {
        None
    }
}

fn classify_v6(ip: Ipv6Addr) -> Option<AddressClass> {
    let segments = ip.segments();
    if ip == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254) {
        Some(AddressClass::Metadata)
    } else if ip.is_loopback() {
        Some(AddressClass::Loopback)
    } else if (segments[0] & 0xfe00) == 0xfc00 || (segments[0] & 0xffc0) == 0xfec0 {
        // Unique local, and the deprecated site-local fec0::/10 that some stacks still route.
        Some(AddressClass::Private)
    } else if (segments[0] & 0xffc0) == 0xfe80 {
        Some(AddressClass::LinkLocal)
    } else if ip.is_unspecified()
        || ip.is_multicast()
        || (segments[0] == 0x2001 && segments[1] == 0x0db8)
        || (segments[0] == 0x0064 && segments[1] == 0xff9b)
        || segments[0] == 0x2002
        || (segments[0] == 0x2001 && segments[1] == 0x0000)
        || ip.to_ipv4().is_some()
    {
        // Documentation, and the ranges that carry an IPv4 address inside (NAT64, 6to4 2002::/16,
        // Teredo 2001::/32, IPv4-compatible), which could smuggle an internal IPv4 address.
        Some(AddressClass::Special)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(text: &str) -> Option<AddressClass> {
        classify(text.parse().unwrap())
    }

    #[test]
    fn public_addresses_pass() {
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "1.1.1.1"] {
            assert_eq!(class(ip), None, "{ip}");
        }
    }

    #[test]
    fn internal_addresses_are_classified() {
        assert_eq!(class("127.0.0.1"), Some(AddressClass::Loopback));
        assert_eq!(class("::1"), Some(AddressClass::Loopback));
        assert_eq!(class("::ffff:127.0.0.1"), Some(AddressClass::Loopback));
        assert_eq!(class("169.254.169.254"), Some(AddressClass::Metadata));
        assert_eq!(class("fd00:ec2::254"), Some(AddressClass::Metadata));
        assert_eq!(class("169.254.1.1"), Some(AddressClass::LinkLocal));
        assert_eq!(class("fe80::1"), Some(AddressClass::LinkLocal));
        assert_eq!(class("100.100.100.200"), Some(AddressClass::Metadata));
        for ip in ["10.0.0.1", "172.16.5.4", "192.168.1.1", "fd12::1", "fec0::1"] {
            assert_eq!(class(ip), Some(AddressClass::Private), "{ip}");
        }
        for ip in [
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::",
            "ff02::1",
            "240.0.0.1",
            "198.18.0.1",
            "::7f00:1",
            "100.64.0.1",
        ] {
            assert_eq!(class(ip), Some(AddressClass::Special), "{ip}");
        }
        // 6to4 of 127.0.0.1 and 169.254.169.254, Teredo, NAT64 of 10.0.0.1.
        for ip in ["2002:7f00:1::", "2002:a9fe:a9fe::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "64:ff9b::a00:1"] {
            assert_eq!(class(ip), Some(AddressClass::Special), "{ip}");
        }
    }
}
