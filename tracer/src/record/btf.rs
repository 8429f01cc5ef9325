//! Just enough BTF (Documentation/bpf/btf.rst) to find the byte offset of a
//! struct member in the running kernel's types, /sys/kernel/btf/vmlinux.
//! aya-obj parses BTF too, but keeps struct members private.

use std::path::Path;

/// The kernel's own type information.
pub const VMLINUX: &str = "/sys/kernel/btf/vmlinux";

/// Why a member offset could not be found.
#[derive(Debug, thiserror::Error)]
pub enum BtfError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("malformed BTF: {0}")]
    Malformed(&'static str),
    #[error("no struct {0} in the BTF")]
    NoStruct(String),
    #[error("struct {0} has no member {1}")]
    NoMember(String, String),
}

/// The byte offsets of `(struct, member)` pairs, looking inside anonymous
/// unions and structs (`sk_buff.sk` sits in one); the BTF is read and
/// parsed once per call: vmlinux's is 5 MB, and each read and parse took
/// 15-20 ms of gotrace's start-up on a busy 2-core machine. Within a
/// [`Held`] scope the file is read only once for all calls.
pub fn member_offsets(
    path: &Path,
    wanted: &[(&str, &str)],
) -> Result<Vec<Result<u32, BtfError>>, BtfError> {
    let data = read(path)?;
    let btf = Btf::parse(&data)?;
    Ok(wanted
        .iter()
        .map(|(strukt, member)| btf.member_offset(strukt, member))
        .collect())
}

/// The bytes of the files read while a [`Held`] is alive, by path.
type Files = Vec<(std::path::PathBuf, std::sync::Arc<[u8]>)>;
static HELD: std::sync::Mutex<Files> = std::sync::Mutex::new(Vec::new());
static HOLDERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// While alive, [`member_offsets`] reads each file once (the kernel's BTF
/// does not change while gotrace starts); dropping the last one frees it.
pub struct Held(());

impl Held {
    /// Starts a scope of shared reads.
    pub fn new() -> Held {
        HOLDERS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Held(())
    }
}

impl Default for Held {
    fn default() -> Held {
        Held::new()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if HOLDERS.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) == 1 {
            if let Ok(mut h) = HELD.lock() {
                h.clear();
            }
        }
    }
}

fn read(path: &Path) -> Result<std::sync::Arc<[u8]>, BtfError> {
    let held = HOLDERS.load(std::sync::atomic::Ordering::SeqCst) > 0;
    if held {
        if let Ok(h) = HELD.lock() {
            if let Some((_, data)) = h.iter().find(|(p, _)| p == path) {
                return Ok(data.clone());
            }
        }
    }
    let data: std::sync::Arc<[u8]> = std::fs::read(path)
        .map_err(|source| BtfError::Read {
            path: path.display().to_string(),
            source,
        })?
        .into();
    if held {
        if let Ok(mut h) = HELD.lock() {
            h.push((path.to_path_buf(), data.clone()));
        }
    }
    Ok(data)
}

const STRUCT: u32 = 4;
const UNION: u32 = 5;

struct Btf<'a> {
    strings: &'a [u8],
    /// Each type's record (header and members), indexed by type id; id 0 is void.
    types: Vec<&'a [u8]>,
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(off..off.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn kind(t: &[u8]) -> u32 {
    u32_at(t, 4).map_or(0, |info| (info >> 24) & 0x1f)
}

impl<'a> Btf<'a> {
    fn parse(data: &'a [u8]) -> Result<Btf<'a>, BtfError> {
        let bad = BtfError::Malformed;
        if data.get(..2) != Some(&[0x9f, 0xeb]) {
            return Err(bad("no little-endian BTF magic"));
        }
        let field = |i: usize| {
            u32_at(data, 4 * i)
                .map(|v| v as usize)
                .ok_or(bad("short header"))
        };
        let (hdr, type_off, type_len, str_off, str_len) =
            (field(1)?, field(2)?, field(3)?, field(4)?, field(5)?);
        let section = |off: usize, len: usize| {
            let start = hdr.checked_add(off)?;
            data.get(start..start.checked_add(len)?)
        };
        let type_data = section(type_off, type_len).ok_or(bad("type section out of bounds"))?;
        let strings = section(str_off, str_len).ok_or(bad("string section out of bounds"))?;
        let mut types = vec![&type_data[..0]];
        let mut pos = 0;
        while pos < type_data.len() {
            let info = u32_at(type_data, pos + 4).ok_or(bad("truncated type"))?;
            let vlen = (info & 0xffff) as usize;
            let extra = match (info >> 24) & 0x1f {
                1 | 14 | 17 => 4,             // INT, VAR, DECL_TAG
                3 => 12,                      // ARRAY
                4 | 5 | 15 | 19 => 12 * vlen, // STRUCT, UNION, DATASEC, ENUM64
                6 | 13 => 8 * vlen,           // ENUM, FUNC_PROTO
                2 | 7..=12 | 16 | 18 => 0,
                _ => return Err(bad("unknown type kind")),
            };
            let end = pos + 12 + extra;
            types.push(type_data.get(pos..end).ok_or(bad("truncated type"))?);
            pos = end;
        }
        Ok(Btf { strings, types })
    }

    fn name(&self, off: u32) -> &'a [u8] {
        let s = self.strings.get(off as usize..).unwrap_or(&[]);
        &s[..s.iter().position(|&c| c == 0).unwrap_or(s.len())]
    }

    fn member_offset(&self, strukt: &str, member: &str) -> Result<u32, BtfError> {
        let id = self
            .types
            .iter()
            .position(|t| {
                kind(t) == STRUCT && self.name(u32_at(t, 0).unwrap_or(0)) == strukt.as_bytes()
            })
            .ok_or_else(|| BtfError::NoStruct(strukt.into()))?;
        let bits = self
            .find(id, member.as_bytes(), 0)
            .ok_or_else(|| BtfError::NoMember(strukt.into(), member.into()))?;
        if bits % 8 != 0 {
            return Err(BtfError::Malformed("member is a bitfield"));
        }
        Ok(bits / 8)
    }

    /// Bit offset of `member` in type `id` (a struct or union), searching
    /// anonymous members depth first, in declaration order.
    fn find(&self, id: usize, member: &[u8], depth: u8) -> Option<u32> {
        let t = self.types.get(id)?;
        let info = u32_at(t, 4)?;
        for i in 0..(info & 0xffff) as usize {
            let m = 12 + 12 * i;
            let (name, ty, off) = (u32_at(t, m)?, u32_at(t, m + 4)?, u32_at(t, m + 8)?);
            // With kind_flag set the low 24 bits are the offset, the top 8 a bitfield size.
            let bits = if info >> 31 == 1 {
                off & 0xff_ffff
            } else {
                off
            };
            if name != 0 {
                if self.name(name) == member {
                    return Some(bits);
                }
            } else if depth < 8 {
                let inner = self.skip_qualifiers(ty as usize)?;
                if matches!(kind(self.types.get(inner)?), STRUCT | UNION) {
                    if let Some(b) = self.find(inner, member, depth + 1) {
                        return bits.checked_add(b);
                    }
                }
            }
        }
        None
    }

    /// Follows typedef, volatile, const, restrict and type_tag to the real type.
    fn skip_qualifiers(&self, mut id: usize) -> Option<usize> {
        for _ in 0..16 {
            let t = self.types.get(id)?;
            if !matches!(kind(t), 8..=11 | 18) {
                return Some(id);
            }
            id = u32_at(t, 8)? as usize;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A BTF blob: `long`, `void *`, an anonymous union { sk; ip_defrag_offset },
    /// a const of it, and `struct sk_buff { next; <anon const union> }` with
    /// the union at byte 24 (as x86_64 lays it out).
    fn blob() -> Vec<u8> {
        let strings = b"\0long\0sk\0ip_defrag_offset\0sk_buff\0next\0".to_vec();
        let (long, sk, frag, skb, next) = (1u32, 6, 9, 26, 34);
        let info = |kind: u32, vlen: u32, flag: u32| flag << 31 | kind << 24 | vlen;
        let words: Vec<u32> = vec![
            long,
            info(1, 0, 0),
            8,
            64, // 1: INT long
            0,
            info(2, 0, 0),
            0, // 2: PTR void
            0,
            info(UNION, 2, 0),
            8,
            sk,
            2,
            0,
            frag,
            1,
            0, // 3: anon union
            0,
            info(10, 0, 0),
            3, // 4: const (3)
            skb,
            info(STRUCT, 2, 1),
            32,
            next,
            2,
            0,
            0,
            4,
            192, // 5: sk_buff
        ];
        let types: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        let mut out = vec![0x9f, 0xeb, 1, 0];
        for w in [
            24u32,
            0,
            types.len() as u32,
            types.len() as u32,
            strings.len() as u32,
        ] {
            out.extend(w.to_le_bytes());
        }
        out.extend(types);
        out.extend(strings);
        out
    }

    #[test]
    fn within_a_held_scope_a_file_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("btf");
        std::fs::write(&file, blob()).unwrap();
        let held = Held::new();
        assert_eq!(
            member_offsets(&file, &[("sk_buff", "sk")]).unwrap()[0]
                .as_ref()
                .unwrap(),
            &24
        );
        std::fs::write(&file, b"not btf").unwrap();
        let again = member_offsets(&file, &[("sk_buff", "sk")]).unwrap();
        assert_eq!(
            again[0].as_ref().unwrap(),
            &24,
            "served from the first read"
        );
        drop(held);
        assert!(matches!(
            member_offsets(&file, &[("sk_buff", "sk")]),
            Err(BtfError::Malformed(_))
        ));
    }

    #[test]
    fn finds_sk_inside_the_anonymous_union() {
        let data = blob();
        let btf = Btf::parse(&data).unwrap();
        assert_eq!(btf.member_offset("sk_buff", "sk").unwrap(), 24);
        assert_eq!(
            btf.member_offset("sk_buff", "ip_defrag_offset").unwrap(),
            24
        );
        assert_eq!(btf.member_offset("sk_buff", "next").unwrap(), 0);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("btf");
        std::fs::write(&file, blob()).unwrap();
        let found = member_offsets(&file, &[("sk_buff", "sk"), ("sk_buff", "dev")]).unwrap();
        assert_eq!(found[0].as_ref().unwrap(), &24);
        assert!(matches!(found[1], Err(BtfError::NoMember(..))));
        assert!(matches!(
            btf.member_offset("sk_buff", "dev"),
            Err(BtfError::NoMember(..))
        ));
        assert!(matches!(
            btf.member_offset("sock", "sk"),
            Err(BtfError::NoStruct(_))
        ));
    }

    #[test]
    fn damaged_data_is_an_error_not_a_panic() {
        let data = blob();
        for cut in 0..data.len() {
            if let Ok(btf) = Btf::parse(&data[..cut]) {
                let _ = btf.member_offset("sk_buff", "sk");
            }
        }
        assert!(matches!(
            Btf::parse(b"\x9f\xeb\x01"),
            Err(BtfError::Malformed(_))
        ));
        assert!(matches!(Btf::parse(b"ELF"), Err(BtfError::Malformed(_))));
        let missing = member_offsets(Path::new("/nonexistent/btf"), &[("sk_buff", "sk")]);
        assert!(matches!(missing, Err(BtfError::Read { .. })));
    }
}
