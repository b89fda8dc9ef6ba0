//! `kubectl arc explain <CODE>`: what a finding code means, why it happens and how it is fixed,
//! from the catalog (`src/codes.rs`, the same text as docs/codes.md). No cluster needed.

use std::io::IsTerminal;
use std::process::ExitCode;

use crate::cli::{ExplainArgs, GlobalArgs, Output};
use crate::codes::{self, CodeInfo};
use crate::error::{EXIT_OK, Failure};
use crate::report::{output_width, to_json, to_yaml, wrap};

pub fn run(g: &GlobalArgs, args: &ExplainArgs) -> Result<ExitCode, Failure> {
    let Some(info) = codes::lookup(&args.code) else {
        let similar = codes::similar(&args.code);
        let hint = if similar.is_empty() {
            "codes are listed in docs/codes.md (e.g. ARC-STUCK-LISTENER)".to_owned()
        } else {
            format!("did you mean {}?", similar.join(", "))
        };
        return Err(Failure::Usage(format!(
            "unknown finding code {:?}; {hint}",
            args.code.trim()
        )));
    };
    let text = match g.output {
        Output::Json => to_json(info),
        Output::Yaml => to_yaml(info),
        Output::Table => render(info, output_width(std::io::stdout().is_terminal())),
    };
    super::write_stdout(&text)?;
    Ok(ExitCode::from(EXIT_OK))
}

/// The catalog entry as text, wrapped to `width`.
pub fn render(c: &CodeInfo, width: usize) -> String {
    let mut lines: Vec<String> = Vec::new();
    lines.extend(wrap(&format!("{} — {}", c.code, c.title), width, "", "  "));
    lines.extend(wrap(&format!("Severity: {}", c.severity), width, "", "  "));
    lines.extend(wrap(
        &format!("Fix: {}", codes::fix_words(c.fix)),
        width,
        "",
        "  ",
    ));
    for (heading, body) in [
        ("What it means", c.meaning),
        ("Why it happens", c.why),
        ("How it is fixed", c.remedy),
    ] {
        lines.push(String::new());
        lines.push(heading.to_owned());
        lines.extend(wrap(body, width, "  ", "  "));
    }
    lines.push(String::new());
    let source = if c.module.is_empty() {
        "Not decided by doctor yet.".to_owned()
    } else {
        format!("Decided by src/checks/{}.", c.module)
    };
    lines.extend(wrap(&source, width, "", ""));
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_renders_within_the_width() {
        for c in codes::CATALOG {
            let t = render(c, 60);
            assert!(t.starts_with(c.code));
            for part in ["What it means", "Why it happens", "How it is fixed"] {
                assert!(t.contains(part), "{}", c.code);
            }
            assert!(t.lines().all(|l| l.chars().count() <= 60), "{t}");
        }
    }
}
