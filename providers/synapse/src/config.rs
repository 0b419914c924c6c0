//! What the user configures, checked before any request: Synapse ids (`synNNN`), the
//! `~/.synapseConfig` file's `authtoken`, and the mapping of object keys to entity names.

use std::path::Path;

/// A Synapse entity id, `syn` followed by digits, as written in `synapse:synNNN`.
pub(crate) fn parse_synapse_id(text: &str) -> Option<String> {
    let digits = text.trim().strip_prefix("syn")?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("syn{digits}"))
}

/// The `authtoken` of a synapseclient configuration file (INI-like): the `[authentication]`
/// section, else the `[default]` profile of newer synapseclient releases. Comments (`#`, `;`)
/// and blank lines are skipped; `key = value` and `key: value` both work.
pub(crate) fn authtoken_from_config(text: &str) -> Option<String> {
    let mut section = String::new();
    let mut found: [Option<String>; 2] = [None, None];
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_ascii_lowercase();
            continue;
        }
        let Some((key, value)) = line.split_once(['=', ':']) else {
            continue;
        };
        if !key.trim().eq_ignore_ascii_case("authtoken") {
            continue;
        }
        let value = value.trim().trim_matches(['"', '\'']).trim();
        if value.is_empty() {
            continue;
        }
        let slot = match section.as_str() {
            "authentication" => 0,
            "default" => 1,
            _ => continue,
        };
        found[slot] = Some(value.to_string());
    }
    let [authentication, default] = found;
    authentication.or(default)
}

/// Reads the `authtoken` of `HOME/.synapseConfig`, if the file exists and has one.
pub(crate) fn authtoken_from_home(home: &str) -> Option<String> {
    let text = std::fs::read_to_string(Path::new(home).join(".synapseConfig")).ok()?;
    authtoken_from_config(&text)
}

/// Synapse entity names may hold letters, digits, spaces and `_ - . + ' ( )`, up to 256
/// characters. A key is flat already (the provider declares `flat_names`); any other character
/// becomes `_`, the same way every run, so a re-run finds the same entity.
pub(crate) fn entity_name(key: &str) -> String {
    let name: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " _-.+'()".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(256)
        .collect();
    if name.trim().is_empty() {
        "_".to_string()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synapse_ids_are_syn_and_digits() {
        assert_eq!(parse_synapse_id("syn123").as_deref(), Some("syn123"));
        assert_eq!(parse_synapse_id(" syn9 ").as_deref(), Some("syn9"));
        for bad in ["", "syn", "123", "syn12a", "SYN12", "syn-1", "syn 1"] {
            assert_eq!(parse_synapse_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_config_file_gives_the_authentication_token() {
        let text = "# synapse\n[cache]\nlocation = ~/.synapseCache\nauthtoken = not-this-one\n\n\
                    [authentication]\n; comment\nusername = me\nauthtoken = eyJ0eXAi.abc\n";
        assert_eq!(authtoken_from_config(text).as_deref(), Some("eyJ0eXAi.abc"));
        let profiles = "[default]\nauthtoken: tok-default\n[profile other]\nauthtoken = x\n";
        assert_eq!(
            authtoken_from_config(profiles).as_deref(),
            Some("tok-default")
        );
        let both = "[default]\nauthtoken=d\n[authentication]\nAuthToken = \"a\"\n";
        assert_eq!(authtoken_from_config(both).as_deref(), Some("a"));
        assert_eq!(
            authtoken_from_config("[authentication]\nauthtoken =\n"),
            None
        );
        assert_eq!(authtoken_from_config("authtoken = outside\n"), None);
    }

    #[test]
    fn the_config_file_is_read_from_home() {
        let home = tempfile::tempdir().unwrap();
        let home_text = home.path().to_str().unwrap();
        assert_eq!(authtoken_from_home(home_text), None);
        std::fs::write(
            home.path().join(".synapseConfig"),
            "[authentication]\nauthtoken = from-file\n",
        )
        .unwrap();
        assert_eq!(authtoken_from_home(home_text).as_deref(), Some("from-file"));
    }

    #[test]
    fn entity_names_keep_allowed_characters_only() {
        assert_eq!(entity_name("cube-mlcube.yaml"), "cube-mlcube.yaml");
        assert_eq!(entity_name("odd_name-v1.0+ü.bin"), "odd_name-v1.0+_.bin");
        assert_eq!(entity_name("a (b) 'c'"), "a (b) 'c'");
        assert_eq!(entity_name("x/y#z"), "x_y_z");
        assert_eq!(entity_name(&"a".repeat(300)).len(), 256);
        assert_eq!(entity_name("  "), "_");
    }
}
