//! The kernels of the matrix and where each one's image comes from.
//!
//! Debian's archive carries the distribution kernels (bookworm: 6.1, 6.12;
//! bullseye: 5.10, read through a private apt sources list so the host's
//! own stays untouched); the others are bzImages in the project's shared
//! kernels directory (`shared/kernels/README.md` says how they were built).

/// Where a kernel image comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `linux-image-<abi>-unsigned` from a Debian suite: the image under
    /// `boot/` and its modules under `lib/modules/<abi>` once extracted.
    Debian {
        suite: &'static str,
        abi: &'static str,
    },
    /// A bzImage with everything the tests need built in, by file name in
    /// the shared kernels directory.
    Shared { file: &'static str },
    /// The running kernel, without a VM.
    Host,
}

/// One kernel of the matrix: `id` is what `--kernel` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kernel {
    pub id: &'static str,
    /// Who ships this kernel to users (said in the table's legend).
    pub who: &'static str,
    pub source: Source,
}

/// Every kernel `--kernel all` boots, oldest first, then the host's.
pub const ALL: &[Kernel] = &[
    Kernel {
        id: "5.10",
        who: "Debian 11",
        source: Source::Debian {
            suite: "bullseye",
            abi: "5.10.0-46-amd64",
        },
    },
    Kernel {
        id: "5.15",
        who: "Ubuntu 22.04's series",
        source: Source::Shared {
            file: "bzImage-5.15.215",
        },
    },
    Kernel {
        id: "6.1",
        who: "Debian 12",
        source: Source::Debian {
            suite: "bookworm",
            abi: "6.1.0-57-amd64",
        },
    },
    Kernel {
        id: "6.6",
        who: "6.6 LTS",
        source: Source::Shared {
            file: "bzImage-6.6.57",
        },
    },
    Kernel {
        id: "6.12",
        who: "6.12 LTS, as Debian 12 ships it",
        source: Source::Debian {
            suite: "bookworm",
            abi: "6.12.118+deb12-amd64",
        },
    },
    Kernel {
        id: "host",
        who: "the running kernel, no VM",
        source: Source::Host,
    },
];

/// The kernels named by `spec`: `all`, or ids separated by commas.
/// Err names an unknown id and lists the known ones.
pub fn select(spec: &str) -> Result<Vec<Kernel>, String> {
    if spec == "all" {
        return Ok(ALL.to_vec());
    }
    spec.split(',')
        .map(|id| {
            ALL.iter()
                .copied()
                .find(|k| k.id == id.trim())
                .ok_or_else(|| {
                    let known: Vec<&str> = ALL.iter().map(|k| k.id).collect();
                    format!("unknown kernel {id:?} (known: all, {})", known.join(", "))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_all_a_list_or_refuses_an_unknown_id() {
        assert_eq!(select("all").unwrap().len(), ALL.len());
        let ids: Vec<&str> = select("6.1,5.10").unwrap().iter().map(|k| k.id).collect();
        assert_eq!(ids, ["6.1", "5.10"]);
        let e = select("4.19").unwrap_err();
        assert!(e.contains("\"4.19\"") && e.contains("5.10"), "{e}");
    }
}
