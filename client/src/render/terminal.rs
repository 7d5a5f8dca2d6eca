//! Text from the daemon and the workflow made safe to print on a terminal.
//!
//! Log lines, reasons and cluster messages come from workflows and pods; printed raw, an
//! escape sequence among them would reach the user's terminal, where it can recolour, clear
//! or retitle the window, or fake lines of output. JSON output needs none of this, since
//! serde_json escapes control characters itself.

use std::borrow::Cow;

/// `text` with every control character but tab shown as an escape, such as `\u{1b}` for ESC
/// or `\n` for a line break inside one line.
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_hidden) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_hidden(c) {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    Cow::Owned(shown)
}

/// C0 and C1 controls and DEL; a tab only moves the cursor to the next column stop.
fn is_hidden(c: char) -> bool {
    c.is_control() && c != '\t'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_shown_instead_of_obeyed() {
        let text = "\u{1b}[2J\u{1b}]0;owned\u{7}red\u{9b}31m";
        assert_eq!(
            visible(text),
            "\\u{1b}[2J\\u{1b}]0;owned\\u{7}red\\u{9b}31m"
        );
    }

    #[test]
    fn line_breaks_inside_one_line_are_shown() {
        assert_eq!(visible("one\ntwo\rthree"), "one\\ntwo\\rthree");
    }

    #[test]
    fn tabs_and_ordinary_text_pass_unchanged() {
        assert!(matches!(
            visible("a\tb ünïcode"),
            Cow::Borrowed("a\tb ünïcode")
        ));
    }
}
