//! The spool engine when the disk says no: a read-only spool
//! directory is a clear error at open; a write that fails mid-batch (the file may grow no more) is
//! a clear error, leaves no torn batch behind, and the spool goes on. Never a panic. Unix only:
//! Windows' read-only attribute does not stop creating files in a directory, and there is no
//! `ulimit -f` there.
//!
//! Read-only: as a normal user the directory is made read-only with its permission bits. Root
//! ignores those (CI runs as root), so there the check runs in a child process inside a private
//! mount namespace (`unshare -m`) where the directory is bind-mounted read-only.
//!
//! Failing writes: a child process runs with a file-size limit (`ulimit -f`, with SIGXFSZ ignored
//! so the write fails with EFBIG instead of killing it), which stops a write part-way exactly as a
//! full disk does, for root too.
#![cfg(unix)]

mod spool_util;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use fluent_forward::spool::Spool;
use spool_util::{batch, opts, replay_all, segment_files, TempDir};

const CHILD_ENV: &str = "FF_SPOOL_TEST_RO_DIR";
const RESULT: &str = "FF_SPOOL_RO_RESULT";
const TEST: &str = "a_read_only_dir_is_a_clear_error_at_open";
const FULL_ENV: &str = "FF_SPOOL_TEST_FULL_DIR";
const FULL_RESULT: &str = "FF_SPOOL_FULL_RESULT";
const FULL_TEST: &str = "a_write_cut_short_is_a_clear_error_and_leaves_no_torn_batch";

/// What opening a spool in `dir` gives: the error's code and message.
fn open_result(dir: &Path) -> String {
  match Spool::open(opts(dir, 1 << 20)) {
    Ok(_) => "opened".into(),
    Err(e) => format!("{} {e}", e.code()),
  }
}

#[test]
fn a_read_only_dir_is_a_clear_error_at_open() {
  if let Ok(dir) = std::env::var(CHILD_ENV) {
    println!("\n{RESULT} {}", open_result(Path::new(&dir)));
    return;
  }
  let tmp = TempDir::new("readonly");
  let dir = tmp.path().join("spool");
  std::fs::create_dir(&dir).unwrap();
  std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
  let bits_hold = std::fs::write(dir.join("probe"), b"x").is_err();
  let result = if bits_hold {
    open_result(&dir)
  } else {
    // Root: a read-only bind mount of the directory, in a mount namespace of its own.
    let d = dir.display().to_string();
    let out = Command::new("unshare")
      .args(["-m", "--propagation", "private", "sh", "-c"])
      .arg(r#"mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && exec "$2" "$3" --exact --nocapture --test-threads=1"#)
      .args(["sh", &d])
      .arg(std::env::current_exe().unwrap())
      .arg(TEST)
      .env(CHILD_ENV, &d)
      .output()
      .expect("unshare runs (util-linux) as root");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find_map(|l| l.strip_prefix(RESULT)).map(str::trim);
    line
      .unwrap_or_else(|| {
        panic!(
          "no result from the namespace: {stdout} {}",
          String::from_utf8_lossy(&out.stderr)
        )
      })
      .to_owned()
  };
  std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
  assert!(result.starts_with("SPOOL_IO "), "{result}");
  assert!(
    result.contains(&dir.join("slot-0").display().to_string()),
    "names the path: {result}"
  );
  let why = if bits_hold {
    "Permission denied"
  } else {
    "Read-only file system"
  };
  assert!(result.contains(why), "{result}");
}

/// In the child, under the file-size limit: appends 1 KiB batches until one fails, checks the
/// segment holds exactly the batches that succeeded, tries once more, and reports.
fn fill_until_refused(dir: &Path) -> String {
  let mut o = opts(dir, 1 << 20);
  o.segment_bytes = 1 << 20;
  let (mut spool, _) = Spool::open(o).unwrap();
  let mut stored = 0u32;
  let mut end = 0;
  let e = loop {
    match spool.append(batch(stored, 4, 250).as_ref()) {
      Ok(id) => {
        stored += 1;
        end = id.position().1 + id.disk_bytes();
      }
      Err(e) => break e,
    }
    assert!(stored < 1000, "the file-size limit never stopped a write");
  };
  let len = segment_files(dir)[0].metadata().unwrap().len();
  assert_eq!(len, end, "the failed write is cut back to the last whole batch");
  let again = spool.append(batch(stored, 4, 250).as_ref()).is_err();
  format!("{stored} {len} {again} {} {e}", e.code())
}

#[test]
fn a_write_cut_short_is_a_clear_error_and_leaves_no_torn_batch() {
  if let Ok(dir) = std::env::var(FULL_ENV) {
    println!("\n{FULL_RESULT} {}", fill_until_refused(Path::new(&dir)));
    return;
  }
  let tmp = TempDir::new("full");
  let d = tmp.path().display().to_string();
  // 64 blocks of 512 bytes (POSIX sh) or 1 KiB (bash as sh): 32 or 64 KiB a file.
  let out = Command::new("sh")
    .arg("-c")
    .arg(r#"trap '' XFSZ; ulimit -f 64 && exec "$0" "$1" --exact --nocapture --test-threads=1"#)
    .arg(std::env::current_exe().unwrap())
    .arg(FULL_TEST)
    .env(FULL_ENV, &d)
    .output()
    .unwrap();
  let stdout = String::from_utf8_lossy(&out.stdout);
  let line = stdout
    .lines()
    .find_map(|l| l.strip_prefix(FULL_RESULT))
    .map(str::trim);
  let line = line.unwrap_or_else(|| panic!("no result: {stdout} {}", String::from_utf8_lossy(&out.stderr)));
  let mut parts = line.splitn(5, ' ');
  let stored: u32 = parts.next().unwrap().parse().unwrap();
  let len: u64 = parts.next().unwrap().parse().unwrap();
  let (again, code, msg) = (
    parts.next().unwrap(),
    parts.next().unwrap(),
    parts.next().unwrap(),
  );
  assert!(stored >= 20, "{line}");
  assert_eq!(again, "true", "still refused while the limit holds");
  assert_eq!(code, "SPOOL_IO", "{line}");
  let file = segment_files(tmp.path())[0].clone();
  assert!(
    msg.contains("append to") && msg.contains(&file.display().to_string()),
    "{msg}"
  );
  // Cut back to the last whole batch (checked in the child): the file ends where it ended there.
  assert_eq!(file.metadata().unwrap().len(), len);
  // Without the limit, every stored batch comes back and nothing is damaged.
  let (mut spool, _) = Spool::open(opts(tmp.path(), 1 << 20)).unwrap();
  let (back, damage) = replay_all(&mut spool);
  assert!(damage.is_empty(), "{damage:?}");
  let want: Vec<_> = (0..stored).map(|i| batch(i, 4, 250)).collect();
  assert_eq!(back.into_iter().map(|(_, b)| b).collect::<Vec<_>>(), want);
}
