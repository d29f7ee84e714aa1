//! Parsing of `WWW-Authenticate` challenges (RFC 7235 section 4.1):
//! `Bearer realm="https://host/service/token",service="registry",scope="repository:a/b:pull,push"`
//! or `Basic realm="registry"`. Quoted values may contain commas and backslash escapes.

/// One challenge: its scheme (lower-cased) and its parameters in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// A parameter by name, compared case-insensitively as RFC 7235 requires.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn is_bearer(&self) -> bool {
        self.scheme == "bearer"
    }

    pub fn is_basic(&self) -> bool {
        self.scheme == "basic"
    }
}

/// Every challenge in one header value (a header may carry several, comma-separated).
pub fn parse_all(header: &str) -> Vec<Challenge> {
    let mut p = Parser {
        s: header.as_bytes(),
        pos: 0,
    };
    let mut out = Vec::new();
    loop {
        p.skip(|b| b == b' ' || b == b'\t' || b == b',');
        let Some(scheme) = p.token() else { break };
        let mut challenge = Challenge {
            scheme: scheme.to_ascii_lowercase(),
            params: Vec::new(),
        };
        p.skip_ws();
        loop {
            let save = p.pos;
            let Some(name) = p.token() else {
                // token68 or garbage: skip to the next comma.
                p.skip(|b| b != b',');
                break;
            };
            p.skip_ws();
            if !p.eat(b'=') {
                // A bare token: the next challenge's scheme.
                p.pos = save;
                break;
            }
            if p.peek() == Some(b'=') || p.peek().is_none() || p.peek() == Some(b',') {
                // `name=` with no value, or a token68 ending in '='.
                p.skip(|b| b == b'=');
                p.skip(|b| b != b',');
                break;
            }
            p.skip_ws();
            let value = if p.peek() == Some(b'"') {
                p.quoted()
            } else {
                p.token().map(str::to_owned)
            };
            let Some(value) = value else { break };
            challenge.params.push((name.to_owned(), value));
            p.skip_ws();
            if !p.eat(b',') {
                break;
            }
            p.skip(|b| b == b' ' || b == b'\t' || b == b',');
        }
        out.push(challenge);
        if p.pos >= p.s.len() {
            break;
        }
    }
    out
}

/// The challenge a client should answer: Bearer when offered, else Basic, else the first.
pub fn parse(header: &str) -> Option<Challenge> {
    let all = parse_all(header);
    let pick = all
        .iter()
        .position(Challenge::is_bearer)
        .or_else(|| all.iter().position(Challenge::is_basic))
        .unwrap_or(0);
    all.into_iter().nth(pick)
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn skip(&mut self, pred: impl Fn(u8) -> bool) {
        while let Some(b) = self.peek() {
            if !pred(b) {
                break;
            }
            self.pos += 1;
        }
    }

    fn skip_ws(&mut self) {
        self.skip(|b| b == b' ' || b == b'\t');
    }

    /// An RFC 7230 token (tchar+).
    fn token(&mut self) -> Option<&'a str> {
        let start = self.pos;
        self.skip(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                        | b'/'
                        | b':'
                )
        });
        if self.pos == start {
            return None;
        }
        std::str::from_utf8(&self.s[start..self.pos]).ok()
    }

    /// A quoted-string with `\` escapes; an unterminated one runs to the end.
    fn quoted(&mut self) -> Option<String> {
        if !self.eat(b'"') {
            return None;
        }
        let mut out = Vec::new();
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    if let Some(next) = self.peek() {
                        out.push(next);
                        self.pos += 1;
                    }
                }
                other => out.push(other),
            }
        }
        String::from_utf8(out).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_with_scope_containing_commas() {
        let c = parse(
            r#"Bearer realm="http://127.0.0.1:5000/service/token",service="berth",scope="repository:library/a:pull,push""#,
        )
        .unwrap();
        assert!(c.is_bearer());
        assert_eq!(
            c.param("realm"),
            Some("http://127.0.0.1:5000/service/token")
        );
        assert_eq!(c.param("SERVICE"), Some("berth"));
        assert_eq!(c.param("scope"), Some("repository:library/a:pull,push"));
    }

    #[test]
    fn error_parameter_and_spacing() {
        let c = parse(
            r#"Bearer  realm = "https://auth.example/token" , service="reg", error="invalid_token""#,
        )
        .unwrap();
        assert_eq!(c.param("realm"), Some("https://auth.example/token"));
        assert_eq!(c.param("service"), Some("reg"));
        assert_eq!(c.param("error"), Some("invalid_token"));
        assert_eq!(c.param("scope"), None);
    }

    #[test]
    fn basic_challenge() {
        let c = parse(r#"Basic realm="registry""#).unwrap();
        assert!(c.is_basic());
        assert_eq!(c.param("realm"), Some("registry"));
    }

    #[test]
    fn escapes_in_quoted_values() {
        let c = parse(r#"Bearer realm="a\"b\\c",service=plain"#).unwrap();
        assert_eq!(c.param("realm"), Some(r#"a"b\c"#));
        assert_eq!(c.param("service"), Some("plain"));
    }

    #[test]
    fn several_challenges_prefer_bearer() {
        let all = parse_all(r#"Basic realm="x", Bearer realm="http://t/token",service="s""#);
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].scheme, "basic");
        assert_eq!(all[1].param("service"), Some("s"));
        let chosen = parse(r#"Basic realm="x", Bearer realm="http://t/token",service="s""#);
        assert_eq!(chosen.map(|c| c.scheme), Some("bearer".to_owned()));
    }

    #[test]
    fn scheme_only_and_garbage() {
        assert_eq!(parse("Bearer").map(|c| c.params.len()), Some(0));
        assert_eq!(parse(""), None);
        assert_eq!(parse("   "), None);
        // token68 form is tolerated and yields no params
        let c = parse("Negotiate abc123==").unwrap();
        assert_eq!(c.scheme, "negotiate");
        assert!(c.params.is_empty());
        // an unterminated quote does not panic
        let c = parse(r#"Bearer realm="http://x"#).unwrap();
        assert_eq!(c.param("realm"), Some("http://x"));
    }
}
