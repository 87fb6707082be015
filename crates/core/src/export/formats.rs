//! Which forms of the data an archive carries besides JSON, and the sizes
//! people type for split parts.
//!
//! JSON is always there: it is the source of truth every other form is made
//! from, so it cannot be turned off.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The forms an archive carries. JSON always; CSV and the offline viewer on
/// by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Formats {
    /// A `.csv` beside the JSON of every category whose descriptor names
    /// columns (and of the file index), for spreadsheet programs.
    pub csv: bool,
    /// The offline `index.html` viewer and the data files it reads.
    pub viewer: bool,
}

impl Default for Formats {
    fn default() -> Self {
        Self {
            csv: true,
            viewer: true,
        }
    }
}

impl Formats {
    /// Every format name, in the order manifests list them.
    pub const ALL: [&'static str; 3] = ["json", "csv", "viewer"];

    /// JSON only.
    pub const JSON_ONLY: Self = Self {
        csv: false,
        viewer: false,
    };

    /// The names of the formats on, as `manifest.json` records them
    /// (`["json", "csv", "viewer"]`).
    pub fn names(&self) -> Vec<&'static str> {
        let mut v = vec!["json"];
        if self.csv {
            v.push("csv");
        }
        if self.viewer {
            v.push("viewer");
        }
        v
    }

    /// Formats from names such as `["json", "csv"]` (case-insensitive).
    /// The list must name `json`: it is the archive's source of truth.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<Self> {
        let mut f = Self::JSON_ONLY;
        let mut json = false;
        for name in names {
            match name.as_ref().trim().to_ascii_lowercase().as_str() {
                "json" => json = true,
                "csv" => f.csv = true,
                "viewer" | "html" => f.viewer = true,
                other => {
                    return Err(Error::Invalid(format!(
                        "{other:?} is not an archive format; the formats are json, csv and viewer"
                    )));
                }
            }
        }
        if !json {
            return Err(Error::Invalid(
                "the formats must include json: it is the archive's source of truth, which CSV and the viewer are made from (e.g. json,csv)"
                    .into(),
            ));
        }
        Ok(f)
    }
}

impl fmt::Display for Formats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join(","))
    }
}

/// The largest size [`parse_size`] accepts: beyond this, a number is a typo.
const MAX_SIZE: u128 = 1 << 60;

/// Parses a size as people write it: `300000`, `500KiB`, `100MB`, `2 GB`,
/// `1.5GiB`. Decimal units (`KB`, `MB`, `GB`, `TB`) are powers of 1000, as
/// disk and cloud storage labels use them; binary units (`KiB`, `MiB`,
/// `GiB`, `TiB`) powers of 1024. Case does not matter, and the `B` may be
/// left out (`100M`).
pub fn parse_size(text: &str) -> Result<u64> {
    let bad = || {
        Error::Invalid(format!(
            "{text:?} is not a size; write e.g. 100MB, 2GB, 4GB or 500KiB"
        ))
    };
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let factor: u128 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "m" | "mb" => 1_000_000,
        "g" | "gb" => 1_000_000_000,
        "t" | "tb" => 1_000_000_000_000,
        "ki" | "kib" => 1 << 10,
        "mi" | "mib" => 1 << 20,
        "gi" | "gib" => 1 << 30,
        "ti" | "tib" => 1 << 40,
        _ => return Err(bad()),
    };
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && frac.is_empty() {
        return Err(bad());
    }
    if frac.contains('.') || frac.len() > 9 {
        return Err(bad());
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let frac_value: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| bad())?
    };
    let scale = 10u128.pow(frac.len() as u32);
    let bytes = whole
        .checked_mul(factor)
        .and_then(|w| w.checked_add(frac_value * factor / scale))
        .filter(|b| *b <= MAX_SIZE)
        .ok_or_else(bad)?;
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_always_on_and_names_round_trip() {
        assert_eq!(Formats::default().names(), ["json", "csv", "viewer"]);
        assert_eq!(Formats::JSON_ONLY.names(), ["json"]);
        assert_eq!(
            Formats::from_names(&["JSON", " csv "]).expect("ok"),
            Formats {
                csv: true,
                viewer: false
            }
        );
        let err = Formats::from_names(&["csv", "viewer"]).expect_err("json is mandatory");
        assert!(err.to_string().contains("must include json"), "{err}");
        assert!(Formats::from_names(&["json", "xml"]).is_err());
        assert_eq!(Formats::default().to_string(), "json,csv,viewer");
    }

    #[test]
    fn sizes_are_read_as_people_write_them() {
        for (text, bytes) in [
            ("300000", 300_000),
            ("100MB", 100_000_000),
            ("2GB", 2_000_000_000),
            ("4 GB", 4_000_000_000),
            ("10gb", 10_000_000_000),
            ("50GB", 50_000_000_000),
            ("500KiB", 512_000),
            ("1.5GiB", 1_610_612_736),
            ("100M", 100_000_000),
            ("2TB", 2_000_000_000_000),
            ("300kb", 300_000),
        ] {
            assert_eq!(parse_size(text).expect(text), bytes, "{text}");
        }
        for bad in [
            "",
            "MB",
            "ten MB",
            "1.2.3GB",
            "5XB",
            "-1MB",
            "99999999999TB",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }
}
