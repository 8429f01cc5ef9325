//! The names DNS answers in the trace gave to addresses, indexed once per
//! verdict: a TCP attempt's target is named by the first answer that
//! carried its peer's address. Looking that up by scanning every attempt
//! for every failed dial made the verdict quadratic (issue 15: a 1M-event
//! bundle of the `syscalls` workload took 13.9 s, 81% of it in that scan).

use std::collections::HashMap;
use std::net::IpAddr;

use crate::correlate::{Attempt, Correlation};
use crate::proto::dns::DnsMessage;

/// Address -> the query name of the first DNS answer carrying it.
#[derive(Debug, Clone, Default)]
pub struct DnsNames(HashMap<IpAddr, String>);

impl DnsNames {
    /// The index of `corr`'s answers, in the order the scan it replaces
    /// ([`DnsNames::get`]) looked: attempts in order; in each, the
    /// answers the process read, then those on the wire; for an address,
    /// only an attempt's first message carrying it counts, and when that
    /// one has no query name the next attempt is asked.
    pub fn of(corr: &Correlation) -> DnsNames {
        let mut names = HashMap::new();
        let mut seen = Vec::new();
        for a in &corr.attempts {
            seen.clear();
            for m in messages(a) {
                for ip in &m.answer_ips {
                    if seen.contains(ip) {
                        continue;
                    }
                    seen.push(*ip);
                    if let Some(q) = &m.qname {
                        names.entry(*ip).or_insert_with(|| q.clone());
                    }
                }
            }
        }
        DnsNames(names)
    }

    /// The name a DNS answer in the trace gave for `ip`.
    pub fn get(&self, ip: IpAddr) -> Option<&str> {
        self.0.get(&ip).map(String::as_str)
    }
}

/// The DNS responses of `a`: read by the process, then seen on the wire.
fn messages(a: &Attempt) -> impl Iterator<Item = &DnsMessage> {
    a.answers
        .iter()
        .map(|m| &m.value)
        .chain(a.wire_answers.iter().map(|m| &m.value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::correlate::{EventFact, Kind, PacketFact};

    /// The scan the index replaces: every attempt, for every lookup.
    fn reference(corr: &Correlation, ip: IpAddr) -> Option<String> {
        corr.attempts.iter().find_map(|o| {
            messages(o)
                .find(|m| m.answer_ips.contains(&ip))
                .and_then(|m| m.qname.clone())
        })
    }

    fn answer(qname: Option<&str>, ips: &[u8]) -> DnsMessage {
        DnsMessage {
            id: 1,
            response: true,
            truncated: false,
            rcode: 0,
            qname: qname.map(str::to_string),
            qtype: Some(1),
            answers: ips.len() as u16,
            answer_ips: ips.iter().map(|&h| IpAddr::from([198, 18, 0, h])).collect(),
        }
    }

    fn attempt(read: Vec<DnsMessage>, wire: Vec<DnsMessage>) -> Attempt {
        let peer = "198.18.0.53:53".parse().unwrap();
        let mut a = Attempt::at(Kind::Dns, 1, "go", 1, 3, peer);
        a.answers = read
            .into_iter()
            .map(|value| EventFact {
                id: 1,
                ts_ns: 1,
                value,
            })
            .collect();
        a.wire_answers = wire
            .into_iter()
            .map(|value| PacketFact { number: 1, value })
            .collect();
        a
    }

    #[test]
    fn the_index_names_every_address_as_the_scan_does() {
        // Names missing from the first message carrying an address, the
        // same address answered for two names, read before wire.
        let corr = Correlation {
            attempts: vec![
                attempt(
                    vec![answer(None, &[2, 3])],
                    vec![answer(Some("a.test"), &[2])],
                ),
                attempt(
                    vec![answer(Some("b.test"), &[3, 4])],
                    vec![answer(Some("c.test"), &[2, 5])],
                ),
                attempt(
                    vec![],
                    vec![answer(Some("d.test"), &[4, 6]), answer(None, &[7])],
                ),
                attempt(vec![answer(Some("e.test"), &[7, 2])], vec![]),
            ],
            ..Correlation::default()
        };
        let names = DnsNames::of(&corr);
        for h in 0..10u8 {
            let ip = IpAddr::from([198, 18, 0, h]);
            assert_eq!(
                names.get(ip).map(str::to_string),
                reference(&corr, ip),
                "198.18.0.{h}"
            );
        }
        assert_eq!(names.get(IpAddr::from([198, 18, 0, 2])), Some("c.test"));
    }
}
