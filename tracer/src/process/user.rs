//! Who the traced command runs as.
//!
//! gotrace itself must stay root to load its eBPF programs and open its
//! capture socket, but under `sudo gotrace run -- go mod tidy` the command
//! should run as the developer who typed it: with their uid, groups and
//! HOME (sudo's default `env_reset` sets HOME to the target user's, i.e.
//! root's, and Go derives GOPATH, GOMODCACHE and GOCACHE from HOME), so it
//! sees their caches and leaves files they own. sudo(8) tells who that is:
//! it sets `SUDO_UID`, `SUDO_GID` (the invoking user's real ids) and
//! `SUDO_USER` (their login name) in the command's environment.
//! `gotrace run --user USER` overrides the detection.
//!
//! The identity is switched in the forked child (see `spawn`) the way
//! login(1) and sudo do it, credentials(7): the supplementary groups first
//! (setgroups(2) with the list initgroups(3) would set, getgrouplist(3) of
//! the user's name and primary group), then setgid(2), then setuid(2), after
//! which the process can no longer change its groups. Everything here runs
//! before the fork, so the child only makes async-signal-safe calls.

use std::ffi::{CString, OsString};

use nix::unistd::{Gid, Uid, User};

use crate::error::TracerError;

/// The identity the command runs as, when it is not simply gotrace's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    pub uid: Uid,
    pub gid: Gid,
    /// Supplementary groups for setgroups(2), the primary group included.
    pub groups: Vec<Gid>,
    /// The passwd name, when the uid has a passwd entry.
    pub name: Option<String>,
    /// `HOME`, `USER` and `LOGNAME` from the passwd entry, set in the
    /// command's environment; empty without an entry (gotrace's are kept).
    pub env: Vec<(&'static str, OsString)>,
}

impl RunAs {
    /// Owner for the bundle directory and files.
    pub fn owner(&self) -> (Uid, Gid) {
        (self.uid, self.gid)
    }

    /// `name (uid N)`, or `uid N`, for messages.
    pub fn display(&self) -> String {
        match &self.name {
            Some(n) => format!("{n} (uid {})", self.uid),
            None => format!("uid {}", self.uid),
        }
    }
}

/// Who the command runs as: the user `--user` names, else, when gotrace
/// runs as root under sudo, the user who invoked sudo. `None`: gotrace's
/// own identity and environment, unchanged. Fails with
/// [`TracerError::UnknownUser`] for a `--user` with no passwd entry, and
/// with [`TracerError::SwitchUser`] when gotrace is not root and `--user`
/// names someone else.
pub fn resolve(user: Option<&str>) -> Result<Option<RunAs>, TracerError> {
    let root = Uid::effective().is_root();
    match user {
        Some(spec) => {
            let target = by_spec(spec)?;
            if root {
                Ok(Some(target))
            } else if target.uid == Uid::current() {
                Ok(None)
            } else {
                Err(TracerError::SwitchUser {
                    user: target.display(),
                    problem: "gotrace is not root, and running the command as another user needs root: run gotrace with sudo, or leave out --user".into(),
                })
            }
        }
        None if root => Ok(from_sudo(|k| std::env::var(k).ok())),
        None => Ok(None),
    }
}

/// `--user SPEC`: a passwd name, or else a numeric uid (as chown(1) reads
/// an owner). Either must have a passwd entry: it gives the primary group
/// and HOME.
fn by_spec(spec: &str) -> Result<RunAs, TracerError> {
    let unknown = |why: String| TracerError::UnknownUser {
        user: spec.into(),
        why,
    };
    let by_name =
        User::from_name(spec).map_err(|e| unknown(format!("looking it up failed: {e}")))?;
    let user = match (by_name, spec.parse::<u32>()) {
        (Some(u), _) => u,
        (None, Ok(n)) => User::from_uid(Uid::from_raw(n))
            .map_err(|e| unknown(format!("looking it up failed: {e}")))?
            .ok_or_else(|| unknown(format!("no user has uid {n} in the passwd database")))?,
        (None, Err(_)) => return Err(unknown("no such user in the passwd database".into())),
    };
    let gid = user.gid;
    Ok(from_passwd(&user, gid))
}

/// The sudo invoker from `SUDO_UID`/`SUDO_GID`/`SUDO_USER` (sudo(8)),
/// read through `var`; `None` unless both ids are set and numeric. The
/// groups are those of `SUDO_USER` when it names that uid (several names
/// can share one), else of the uid's passwd name; a uid without a passwd
/// entry gets just `[SUDO_GID]` and gotrace's HOME/USER/LOGNAME.
fn from_sudo(var: impl Fn(&str) -> Option<String>) -> Option<RunAs> {
    let id = |k: &str| var(k).and_then(|v| v.trim().parse::<u32>().ok());
    let uid = Uid::from_raw(id("SUDO_UID")?);
    let gid = Gid::from_raw(id("SUDO_GID")?);
    let named = var("SUDO_USER")
        .and_then(|n| User::from_name(&n).ok().flatten())
        .filter(|u| u.uid == uid);
    let user = named.or_else(|| User::from_uid(uid).ok().flatten());
    Some(match user {
        Some(u) => from_passwd(&u, gid),
        None => RunAs {
            uid,
            gid,
            groups: vec![gid],
            name: None,
            env: Vec::new(),
        },
    })
}

/// `user` with primary group `gid`: its initgroups(3) list (getgrouplist(3),
/// which includes `gid`; just `[gid]` if that fails) and its passwd HOME.
fn from_passwd(user: &User, gid: Gid) -> RunAs {
    let groups = CString::new(user.name.as_bytes())
        .ok()
        .and_then(|n| nix::unistd::getgrouplist(&n, gid).ok())
        .filter(|g| !g.is_empty())
        .unwrap_or_else(|| vec![gid]);
    RunAs {
        uid: user.uid,
        gid,
        groups,
        name: Some(user.name.clone()),
        env: vec![
            ("HOME", user.dir.clone().into_os_string()),
            ("USER", user.name.clone().into()),
            ("LOGNAME", user.name.clone().into()),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sudo_env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    fn root_home() -> OsString {
        User::from_uid(Uid::from_raw(0))
            .unwrap()
            .expect("root has a passwd entry")
            .dir
            .into_os_string()
    }

    #[test]
    fn user_by_name_or_uid() {
        for spec in ["root", "0"] {
            let r = by_spec(spec).unwrap();
            assert_eq!((r.uid.as_raw(), r.gid.as_raw()), (0, 0), "{spec}");
            assert_eq!(r.name.as_deref(), Some("root"));
            assert!(r.groups.contains(&Gid::from_raw(0)), "{:?}", r.groups);
            assert_eq!(
                r.env,
                vec![
                    ("HOME", root_home()),
                    ("USER", "root".into()),
                    ("LOGNAME", "root".into())
                ]
            );
        }
    }

    #[test]
    fn unknown_user_is_a_typed_error_with_exit_67() {
        let e = by_spec("no-such-user-xyz").unwrap_err();
        assert!(matches!(e, TracerError::UnknownUser { .. }), "{e:?}");
        assert_eq!(e.exit_code(), 67);
        let msg = e.to_string();
        assert!(
            msg.contains("--user no-such-user-xyz") && msg.contains("no such user"),
            "{msg}"
        );
        // A uid nobody has.
        let free = (4_000_000u32..4_001_000)
            .find(|n| User::from_uid(Uid::from_raw(*n)).unwrap().is_none())
            .unwrap();
        let e = by_spec(&free.to_string()).unwrap_err();
        assert!(
            e.to_string().contains(&format!("no user has uid {free}")),
            "{e}"
        );
    }

    #[test]
    fn sudo_variables_name_the_invoking_user() {
        assert_eq!(from_sudo(sudo_env(&[])), None);
        assert_eq!(from_sudo(sudo_env(&[("SUDO_UID", "0")])), None);
        assert_eq!(
            from_sudo(sudo_env(&[("SUDO_UID", "x"), ("SUDO_GID", "0")])),
            None
        );
        let r = from_sudo(sudo_env(&[
            ("SUDO_UID", "0"),
            ("SUDO_GID", "0"),
            ("SUDO_USER", "root"),
        ]))
        .unwrap();
        assert_eq!(r, by_spec("root").unwrap());
        // SUDO_USER naming another uid is not believed: the uid's own name is used.
        let r = from_sudo(sudo_env(&[
            ("SUDO_UID", "0"),
            ("SUDO_GID", "0"),
            ("SUDO_USER", "no-such-user-xyz"),
        ]))
        .unwrap();
        assert_eq!(r.name.as_deref(), Some("root"));
    }

    #[test]
    fn sudo_uid_without_passwd_entry_keeps_only_its_gid() {
        let free = (4_000_000u32..4_001_000)
            .find(|n| User::from_uid(Uid::from_raw(*n)).unwrap().is_none())
            .unwrap();
        let uid = free.to_string();
        let r = from_sudo(sudo_env(&[("SUDO_UID", &uid), ("SUDO_GID", "4000123")])).unwrap();
        assert_eq!(
            r,
            RunAs {
                uid: Uid::from_raw(free),
                gid: Gid::from_raw(4_000_123),
                groups: vec![Gid::from_raw(4_000_123)],
                name: None,
                env: Vec::new(),
            }
        );
        assert_eq!(r.display(), format!("uid {free}"));
    }
}
