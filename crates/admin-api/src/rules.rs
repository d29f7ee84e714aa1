//! Harbor's rules for account fields: passwords and robot secrets, usernames, profile
//! fields and robot names. Each returns the message of a 400 on failure.

/// Harbor's password rule, also its rule for a robot secret chosen by the caller:
/// 8 to 128 characters with at least one upper-case letter, one lower-case letter and
/// one digit.
pub fn check_password(password: &str) -> Result<(), String> {
    let len = password.chars().count();
    let has = |f: fn(char) -> bool| password.chars().any(f);
    if (8..=128).contains(&len)
        && has(|c| c.is_ascii_uppercase())
        && has(|c| c.is_ascii_lowercase())
        && has(|c| c.is_ascii_digit())
    {
        Ok(())
    } else {
        Err(
            "the password must be 8 to 128 characters long with at least one uppercase \
             letter, one lowercase letter and one digit"
                .to_owned(),
        )
    }
}

/// Characters Harbor refuses in usernames and real names.
const ILLEGAL: &[char] = &[',', '~', '#', '$', '%', '"'];

/// 1 to 255 characters, none of Harbor's illegal ones, and no `:` (HTTP Basic splits
/// there, so such a user could never log in) or control characters or spaces.
pub fn check_username(username: &str) -> Result<(), String> {
    let len = username.chars().count();
    if !(1..=255).contains(&len) {
        return Err("username must be 1 to 255 characters long".to_owned());
    }
    if username
        .chars()
        .any(|c| ILLEGAL.contains(&c) || c == ':' || c.is_control() || c.is_whitespace())
    {
        return Err("username must not contain spaces or any of , ~ # $ % \" :".to_owned());
    }
    Ok(())
}

/// Harbor's profile rules: a well-formed email (required, at most 255 characters), a
/// real name of 1 to 255 characters without illegal ones, a comment of at most 30.
pub fn check_profile(email: &str, realname: &str, comment: &str) -> Result<(), String> {
    if email.is_empty() {
        return Err("email can't be empty".to_owned());
    }
    if email.chars().count() > 255 || !email_ok(email) {
        return Err("email with illegal format".to_owned());
    }
    let len = realname.chars().count();
    if !(1..=255).contains(&len) {
        return Err("realname with illegal length".to_owned());
    }
    if realname
        .chars()
        .any(|c| ILLEGAL.contains(&c) || c.is_control())
    {
        return Err("realname contains illegal characters".to_owned());
    }
    if comment.chars().count() > 30 {
        return Err("comment with illegal length".to_owned());
    }
    Ok(())
}

/// `local@domain.tld`: no spaces or the characters Harbor's pattern excludes, a dot in
/// the domain and a top-level part of at least two letters.
fn email_ok(email: &str) -> bool {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    let bad = |c: char| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"@".contains(c);
    if local.is_empty() || local.chars().any(bad) || domain.chars().any(bad) {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let Some(tld) = labels.last() else {
        return false;
    };
    labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        && tld.len() >= 2
        && tld.chars().all(|c| c.is_ascii_alphabetic())
}

/// Harbor's robot name pattern `^[a-z0-9]+(?:[._-][a-z0-9]+)*$`, at most 255
/// characters. `+` and `$` are thereby excluded, so full names stay unambiguous.
pub fn check_robot_name(name: &str) -> Result<(), String> {
    let segments_ok = name.split(['.', '_', '-']).all(|seg| {
        !seg.is_empty()
            && seg
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    });
    if !name.is_empty() && name.len() <= 255 && segments_ok {
        Ok(())
    } else {
        Err(format!(
            "robot name {name:?} is invalid: use lowercase letters and digits, separated by single '.', '_' or '-'"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_rule_is_harbors() {
        assert!(check_password("Harbor12345").is_ok());
        assert!(check_password("Abcdefg1").is_ok());
        assert!(check_password("Abcdef1").is_err(), "7 characters");
        assert!(check_password("abcdefg1").is_err(), "no upper case");
        assert!(check_password("ABCDEFG1").is_err(), "no lower case");
        assert!(check_password("Abcdefgh").is_err(), "no digit");
        let long = format!("Aa1{}", "x".repeat(126));
        assert!(check_password(&long).is_err(), "129 characters");
        assert!(check_password(&long[..128]).is_ok());
    }

    #[test]
    fn usernames() {
        assert!(check_username("alice").is_ok());
        assert!(check_username("alice.smith@corp").is_ok());
        for bad in ["", "a b", "a:b", "a$b", "a,b", "a%b", "a#b", "a~b"] {
            assert!(check_username(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn profiles() {
        assert!(check_profile("a@example.com", "Alice", "").is_ok());
        assert!(check_profile("", "Alice", "").is_err());
        for bad in [
            "a", "a@b", "a@b.c", "a b@c.de", "@c.de", "a@c..de", "a@c.d1",
        ] {
            assert!(check_profile(bad, "Alice", "").is_err(), "{bad:?}");
        }
        assert!(check_profile("a@example.com", "", "").is_err());
        assert!(check_profile("a@example.com", "A#", "").is_err());
        assert!(check_profile("a@example.com", "A", &"c".repeat(31)).is_err());
    }

    #[test]
    fn robot_names() {
        for ok in ["ci", "ci-01", "a.b_c-d", "0"] {
            assert!(check_robot_name(ok).is_ok(), "{ok:?}");
        }
        for bad in ["", "CI", "ci+x", "ci$", "-ci", "ci-", "a..b", "a b"] {
            assert!(check_robot_name(bad).is_err(), "{bad:?}");
        }
    }
}
