//! Issue #13: runs that are killed, raced or fed a changed deploy folder, on the `dir:`
//! provider (a real folder; the other providers' races are in their own modules).

use std::path::{Path, PathBuf};

use crate::support::*;

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(files_under(&path));
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Defect 6: a deploy file edited at the same size used to be published as "unchanged" under
/// its old hash (and then failed verification forever). `publish` hashes what it sends.
#[test]
fn publish_refuses_a_deploy_file_edited_at_the_same_size() {
    let (temp, cube) = example_cube("brats-model-deepmedic");
    cubeship_run(["package", cube.to_str().unwrap()]).assert_code(0);
    let deploy = cube.join("deploy");
    let dest = temp.path().join("published");
    let to = format!("dir:{}", dest.display());
    cubeship_run(["publish", deploy.to_str().unwrap(), "--to", &to]).assert_code(0);
    let before = files_under(&dest);

    let edited = deploy.join("mlcube.yaml");
    let mut bytes = std::fs::read(&edited).unwrap();
    let last = bytes.len() - 2;
    bytes[last] = if bytes[last] == b'x' { b'y' } else { b'x' };
    std::fs::write(&edited, &bytes).unwrap();

    let run = cubeship_run(["publish", deploy.to_str().unwrap(), "--to", &to]);
    run.assert_code(2);
    assert!(run.stderr.contains("mlcube.yaml"), "{}", run.stderr);
    assert!(
        run.stderr.contains("package the MLCube again"),
        "{}",
        run.stderr
    );
    assert_eq!(files_under(&dest), before, "something was uploaded");
}
