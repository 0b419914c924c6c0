//! The progress display in a real terminal: the binary runs inside tmux (a private server
//! socket, a fixed 160×40 window), downloads a slow file for `verify`, and capture-pane must
//! show a byte bar with the rate while it runs, then the result with the bar gone.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::support::*;

/// One tmux server of our own, killed on drop.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn new() -> Tmux {
        Tmux {
            socket: format!("cubeship-test-{}", std::process::id()),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("tmux runs (apt-get install tmux: scripts/install-test-servers.sh)")
    }

    fn capture(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-t", "t"]).stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// The server's /slow/weights.bin: 64 KiB of bytes 0..=255, 64 times.
fn slow_file() -> Vec<u8> {
    let block: Vec<u8> = (0..256).flat_map(|_| 0..=255u8).collect();
    block.repeat(64)
}

#[test]
fn verify_shows_a_byte_bar_in_a_terminal_and_clears_it() {
    let (_server, base) = start_fake("link doctor", "link_doctor_server.py", &[]);
    let sha = sha256_hex(&slow_file());
    let tmux = Tmux::new();
    let script = format!(
        "env -u HTTP_PROXY -u http_proxy -u NO_PROXY -u no_proxy XDG_CONFIG_HOME=/nonexistent \
         {} verify {base}/slow/weights.bin --sha256 {sha}; echo EXIT=$?; sleep 60",
        env!("CARGO_BIN_EXE_cubeship")
    );
    let started = tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "t",
        "-x",
        "160",
        "-y",
        "40",
        &script,
    ]);
    assert!(
        started.status.success(),
        "tmux new-session: {}",
        String::from_utf8_lossy(&started.stderr)
    );
    let start = Instant::now();
    let mut saw_bar = None;
    let screen = loop {
        let screen = tmux.capture();
        if screen.contains("verifying ") && screen.contains("B/s") {
            saw_bar.get_or_insert(screen.clone());
        }
        if screen.contains("EXIT=") {
            break screen;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no result after 30 s:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let bar =
        saw_bar.unwrap_or_else(|| panic!("no progress bar was drawn; last screen:\n{screen}"));
    let line = bar
        .lines()
        .find(|l| l.contains("verifying "))
        .unwrap()
        .to_string();
    assert!(line.contains("verifying weights.bin"), "{line}");
    assert!(line.contains("/4.00 MiB"), "total shown: {line}");
    assert!(
        line.contains("MiB") || line.contains("KiB"),
        "bytes shown: {line}"
    );
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(screen.contains("verified  "), "{screen}");
    assert!(screen.contains("4.0 MiB in "), "{screen}");
    assert!(
        !screen.contains("verifying "),
        "the bar was left behind:\n{screen}"
    );
}
