//! The login for a host from a `.netrc` file (the format curl, wget and git read): the
//! `machine` entry whose name is the host, else `default`.

use std::path::{Path, PathBuf};

/// A user name and password for one host.
#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    /// `login`.
    pub user: String,
    /// `password`.
    pub password: String,
}

/// `$NETRC` when set, else `~/.netrc`.
pub fn default_path(netrc_env: Option<String>, home: Option<String>) -> Option<PathBuf> {
    match netrc_env.filter(|v| !v.is_empty()) {
        Some(path) => Some(PathBuf::from(path)),
        None => home.map(|home| Path::new(&home).join(".netrc")),
    }
}

/// The login for `host` in the file at `path`; `None` when the file is missing or unreadable
/// or has no entry with both a login and a password.
pub fn login_for(path: &Path, host: &str) -> Option<Login> {
    let text = std::fs::read_to_string(path).ok()?;
    parse(&text, host)
}

fn parse(text: &str, host: &str) -> Option<Login> {
    let mut tokens = text.split_whitespace();
    // (is this entry for the host, user, password) of the entry being read
    let mut current: Option<(bool, Option<String>, Option<String>)> = None;
    let mut fallback: Option<Login> = None;
    let finish = |entry: Option<(bool, Option<String>, Option<String>)>,
                  fallback: &mut Option<Login>,
                  is_default: bool|
     -> Option<Login> {
        let (matches, user, password) = entry?;
        let login = Login {
            user: user?,
            password: password?,
        };
        if matches {
            return Some(login);
        }
        if is_default && fallback.is_none() {
            *fallback = Some(login);
        }
        None
    };
    let mut current_is_default = false;
    while let Some(token) = tokens.next() {
        match token {
            "machine" | "default" => {
                if let Some(found) = finish(current.take(), &mut fallback, current_is_default) {
                    return Some(found);
                }
                current_is_default = token == "default";
                let matches = if current_is_default {
                    false
                } else {
                    tokens
                        .next()
                        .is_some_and(|name| name.eq_ignore_ascii_case(host))
                };
                current = Some((matches, None, None));
            }
            "login" => {
                let value = tokens.next().map(str::to_string);
                if let Some(entry) = current.as_mut() {
                    entry.1 = value;
                }
            }
            "password" => {
                let value = tokens.next().map(str::to_string);
                if let Some(entry) = current.as_mut() {
                    entry.2 = value;
                }
            }
            "account" => {
                tokens.next();
            }
            // A macro runs to the next empty line, which split_whitespace cannot see; macros
            // come last in practice, so stop reading there.
            "macdef" => break,
            _ => {}
        }
    }
    finish(current, &mut fallback, current_is_default).or(fallback)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_machine_entry_else_the_default() {
        let text = "machine other.example login a password b\n\
                    default login anon password guest\n\
                    machine files.example.org\n  login me\n  password s3cret\n";
        let login = parse(text, "files.example.org").unwrap();
        assert_eq!(
            (login.user.as_str(), login.password.as_str()),
            ("me", "s3cret")
        );
        let fallback = parse(text, "unknown.example").unwrap();
        assert_eq!(fallback.user, "anon");
        assert!(parse("machine x login only", "x").is_none());
    }
}
