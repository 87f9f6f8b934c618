//! URL building as the official client does it (docs/protocol.md §1.1): bases keep their path prefix,
//! and query values are escaped with `encodeURIComponent` rules.

/// Joins a relative endpoint onto a base, keeping any path prefix of the base.
/// `https://h/p` + `ilink/bot/getupdates` → `https://h/p/ilink/bot/getupdates`.
pub fn join(base: &str, endpoint: &str) -> String {
    let base = base.trim();
    let endpoint = endpoint.trim_start_matches('/');
    if base.ends_with('/') {
        format!("{base}{endpoint}")
    } else {
        format!("{base}/{endpoint}")
    }
}

/// Percent-encodes everything except `A–Z a–z 0–9 - _ . ! ~ * ' ( )`, byte-wise over UTF-8.
pub fn encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_keep_prefix() {
        assert_eq!(
            join("https://h/p", "ilink/bot/getupdates"),
            "https://h/p/ilink/bot/getupdates"
        );
        assert_eq!(join("https://h/", "ilink/x"), "https://h/ilink/x");
        assert_eq!(join("http://127.0.0.1:9/", "/a"), "http://127.0.0.1:9/a");
    }

    #[test]
    fn encode_vectors() {
        // Spec §10.6.
        assert_eq!(encode_component("ab+/cd=="), "ab%2B%2Fcd%3D%3D");
        assert_eq!(encode_component("a b~*'()!"), "a%20b~*'()!");
        assert_eq!(encode_component("中"), "%E4%B8%AD");
        assert_eq!(
            format!(
                "{}?encrypted_query_param={}&filekey={}",
                join("https://novac2c.cdn.weixin.qq.com/c2c", "upload"),
                encode_component("UP+/x="),
                "00112233445566778899aabbccddeeff"
            ),
            "https://novac2c.cdn.weixin.qq.com/c2c/upload?encrypted_query_param=UP%2B%2Fx%3D&filekey=00112233445566778899aabbccddeeff"
        );
    }
}
