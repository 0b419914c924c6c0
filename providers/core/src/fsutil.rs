//! File-system steps that must not lose or replace data when a run is killed or races
//! another: an atomic exchange of two folders, and a rename that never replaces.

use std::io;
use std::path::Path;

/// Swaps `a` and `b` (both must exist) in one atomic step where the kernel can
/// (`renameat2(RENAME_EXCHANGE)`, Linux): after a crash either both names hold their old
/// contents or both the new ones. `Ok(false)` when the system or file system cannot, and
/// nothing changed: the caller falls back to two renames.
pub fn exchange(a: &Path, b: &Path) -> io::Result<bool> {
    #[cfg(target_os = "linux")]
    {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let a = CString::new(a.as_os_str().as_bytes())?;
        let b = CString::new(b.as_os_str().as_bytes())?;
        // SAFETY: both paths are valid NUL-terminated strings that live across the call.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_renameat2,
                libc::AT_FDCWD,
                a.as_ptr(),
                libc::AT_FDCWD,
                b.as_ptr(),
                libc::RENAME_EXCHANGE,
            )
        };
        if rc == 0 {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::ENOSYS) | Some(libc::EINVAL) | Some(libc::EOPNOTSUPP) => Ok(false),
            _ => Err(err),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (a, b);
        Ok(false)
    }
}

/// Moves the file `from` to `to` only if `to` does not exist: a hard link (which never
/// replaces) then removal of `from`. `ErrorKind::AlreadyExists` when `to` exists, and then
/// `from` is left in place.
pub fn rename_no_replace(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::hard_link(from, to)?;
    std::fs::remove_file(from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchange_swaps_and_no_replace_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        std::fs::write(a.join("x"), "a").unwrap();
        if exchange(&a, &b).unwrap() {
            assert!(b.join("x").exists() && !a.join("x").exists());
        }
        let (f, g) = (dir.path().join("f"), dir.path().join("g"));
        std::fs::write(&f, "f").unwrap();
        std::fs::write(&g, "g").unwrap();
        let err = rename_no_replace(&f, &g).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(&g).unwrap(), "g");
        assert!(f.exists());
        std::fs::remove_file(&g).unwrap();
        rename_no_replace(&f, &g).unwrap();
        assert!(!f.exists() && g.exists());
    }
}
