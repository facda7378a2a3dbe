//! The tokens of CQL2 text, each with the column (1-based, in characters)
//! where it starts.

use super::{Cql2Error, Fault};

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A name: a keyword, a function or a property (`quoted` when written
    /// in double quotes: never a keyword).
    Ident {
        /// The name.
        name: String,
        /// Written as `"name"`.
        quoted: bool,
    },
    /// `'text'`, escapes resolved.
    Str(String),
    /// A number as written (parsed by the parser, which knows its sign).
    Num(String),
    /// `(`
    Open,
    /// `)`
    Close,
    /// `,`
    Comma,
    /// `=`, `<>`, `<`, `<=`, `>`, `>=`
    Op(&'static str),
    /// `+` or `-` before a number.
    Sign(char),
    /// The end of the input.
    End,
}

/// A token and its column.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// What it is.
    pub tok: Tok,
    /// Where it starts (1-based column, in characters).
    pub column: usize,
}

/// Splits `text` into tokens (the last is [`Tok::End`]). At most
/// `max_tokens` tokens are made: the parser's node bound then holds
/// whatever the text.
pub fn tokens(text: &str, max_tokens: usize) -> Result<Vec<Token>, Cql2Error> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if out.len() >= max_tokens {
            return Err(Cql2Error::new(
                Fault::TooComplex(format!("more than {max_tokens} tokens")),
                column,
            ));
        }
        let tok = match c {
            '(' => {
                i += 1;
                Tok::Open
            }
            ')' => {
                i += 1;
                Tok::Close
            }
            ',' => {
                i += 1;
                Tok::Comma
            }
            '=' => {
                i += 1;
                Tok::Op("=")
            }
            '<' | '>' => {
                let next = chars.get(i + 1).copied();
                let (op, len) = match (c, next) {
                    ('<', Some('>')) => ("<>", 2),
                    ('<', Some('=')) => ("<=", 2),
                    ('>', Some('=')) => (">=", 2),
                    ('<', _) => ("<", 1),
                    _ => (">", 1),
                };
                i += len;
                Tok::Op(op)
            }
            '+' | '-' => {
                i += 1;
                Tok::Sign(c)
            }
            '\'' => {
                let (s, end) = string(&chars, i)?;
                i = end;
                Tok::Str(s)
            }
            '"' => {
                let (name, end) = quoted_ident(&chars, i)?;
                i = end;
                Tok::Ident { name, quoted: true }
            }
            c if c.is_ascii_digit() || c == '.' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                if i < chars.len() && matches!(chars[i], 'e' | 'E') {
                    i += 1;
                    if i < chars.len() && matches!(chars[i], '+' | '-') {
                        i += 1;
                    }
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
                Tok::Num(chars[start..i].iter().collect())
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '.' | ':'))
                {
                    i += 1;
                }
                Tok::Ident {
                    name: chars[start..i].iter().collect(),
                    quoted: false,
                }
            }
            other => {
                return Err(Cql2Error::new(
                    Fault::Syntax(format!("unexpected character {other:?}")),
                    column,
                ))
            }
        };
        out.push(Token { tok, column });
    }
    out.push(Token {
        tok: Tok::End,
        column: chars.len() + 1,
    });
    Ok(out)
}

/// `'...'` from `start` (the quote): `''` and `\'` stand for a quote.
fn string(chars: &[char], start: usize) -> Result<(String, usize), Cql2Error> {
    let mut s = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\'' if chars.get(i + 1) == Some(&'\'') => {
                s.push('\'');
                i += 2;
            }
            '\'' => return Ok((s, i + 1)),
            '\\' if chars.get(i + 1) == Some(&'\'') => {
                s.push('\'');
                i += 2;
            }
            c => {
                s.push(c);
                i += 1;
            }
        }
    }
    Err(Cql2Error::new(
        Fault::Syntax("unterminated string (a ' is missing)".into()),
        start + 1,
    ))
}

/// `"..."` from `start`: `""` stands for a double quote.
fn quoted_ident(chars: &[char], start: usize) -> Result<(String, usize), Cql2Error> {
    let mut s = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '"' if chars.get(i + 1) == Some(&'"') => {
                s.push('"');
                i += 2;
            }
            '"' => return Ok((s, i + 1)),
            c => {
                s.push(c);
                i += 1;
            }
        }
    }
    Err(Cql2Error::new(
        Fault::Syntax("unterminated quoted property name (a \" is missing)".into()),
        start + 1,
    ))
}
