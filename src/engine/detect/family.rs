//! Resource families: the part of a resource that names a place, and the
//! place's fingerprint, which a new version of the place shares.

use super::super::stats::{fingerprint, fp_kind};

/// Resource family: the part of a resource that names a place rather than one
/// object: an ARN up to its first `/`, the first two segments of a path,
/// a URI's scheme and authority (`kb://tenant-a`).
pub(crate) fn resource_family(resource: &str) -> &str {
    // Scans for ASCII delimiters (every cut lands on a char boundary). This
    // runs for every call (twice in `warden run`: the engine and the
    // inventory), and `str::find` with a string pattern sets up a substring
    // searcher each time, so the one for `://` is built once.
    let b = resource.as_bytes();
    let slash_from = |from: usize| memchr::memchr(b'/', &b[from..]).map(|i| from + i);
    if let Some(at) = SCHEME_SEPARATOR.find(b) {
        return &resource[..slash_from(at + 3).unwrap_or(b.len())];
    }
    if b.first() == Some(&b'/') {
        // The leading slash and two segments: up to the third slash.
        return match slash_from(1).and_then(|second| slash_from(second + 1)) {
            Some(third) => &resource[..third],
            None => resource,
        };
    }
    match slash_from(0) {
        Some(i) => &resource[..i],
        None => resource,
    }
}

/// Finds the first `://` in one search; a `memchr` per colon cost twice as
/// much (an ARN has five colons and no scheme).
static SCHEME_SEPARATOR: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new("://"));

/// Fingerprint of a resource family as a place: version tokens (`v2`,
/// `v1beta1`) are left out, so `/v2/orders` is the place `/v1/orders` was
/// and a bucket's `-v2` successor is the bucket. Moving to the next version
/// of an API or a dataset is routine upkeep; a place is new when its name
/// is. (The family shown in evidence keeps its version.)
pub(super) fn place_fingerprint(family: &str) -> u64 {
    let bytes = family.as_bytes();
    // Most families carry no version: hashed as they are, without a copy.
    // Families are short; a longer one is hashed as it is too.
    let may_have_version = bytes.windows(2).enumerate().any(|(i, w)| {
        matches!(w[0], b'v' | b'V')
            && w[1].is_ascii_digit()
            && (i == 0 || is_separator(bytes[i - 1]))
    });
    const LONGEST: usize = 256;
    if !may_have_version || family.len() > LONGEST {
        return fingerprint(fp_kind::RESOURCE_FAMILY, family);
    }
    let mut buf = [0u8; LONGEST];
    let mut len = 0;
    let mut start = 0;
    while start < bytes.len() {
        // One token with the separator before it: `-v2`, `/orders`.
        let body = start + usize::from(is_separator(bytes[start]));
        let end = bytes[body..]
            .iter()
            .position(|&b| is_separator(b))
            .map_or(bytes.len(), |i| body + i);
        if !is_version(&bytes[body..end]) {
            buf[len..len + end - start].copy_from_slice(&bytes[start..end]);
            len += end - start;
        }
        start = end;
    }
    if len == 0 {
        return fingerprint(fp_kind::RESOURCE_FAMILY, family);
    }
    // Only whole tokens were dropped, so the rest is still UTF-8; the
    // fingerprint hashes bytes either way.
    xxhash_rust::xxh3::xxh3_64_with_seed(&buf[..len], fp_kind::RESOURCE_FAMILY as u64)
}

fn is_separator(b: u8) -> bool {
    matches!(b, b'/' | b'-' | b'_' | b'.' | b':')
}

/// `v` and a version number, optionally `alpha`/`beta` and a number.
fn is_version(token: &[u8]) -> bool {
    let Some((b'v' | b'V', rest)) = token.split_first() else {
        return false;
    };
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 3 {
        return false;
    }
    let rest = &rest[digits..];
    let rest = rest
        .strip_prefix(b"alpha")
        .or_else(|| rest.strip_prefix(b"beta"))
        .unwrap_or(rest);
    rest.iter().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition `resource_family` is a faster form of.
    fn resource_family_reference(resource: &str) -> &str {
        if let Some(at) = resource.find("://") {
            let after = at + 3;
            let end = resource[after..]
                .find('/')
                .map_or(resource.len(), |i| after + i);
            return &resource[..end];
        }
        if let Some(rest) = resource.strip_prefix('/') {
            let end = rest
                .match_indices('/')
                .nth(1)
                .map_or(rest.len(), |(i, _)| i);
            return &resource[..end + 1];
        }
        match resource.find('/') {
            Some(i) => &resource[..i],
            None => resource,
        }
    }

    proptest! {
        #[test]
        fn resource_family_matches_its_definition(
            r in "[a-z:/é.-]{0,24}|(arn|kb|s3)://?[a-z/:]{0,12}|/[a-z0-9/]{0,16}\
                  |/?[a-zé/]{0,10}://?[a-z/]{0,10}|arn:aws:[a-z0-9:é]{0,12}/?[a-z/]{0,10}"
        ) {
            prop_assert_eq!(resource_family(&r), resource_family_reference(&r));
        }
    }

    #[test]
    fn a_new_version_of_a_place_is_the_place() {
        let same = |a: &str, b: &str| place_fingerprint(a) == place_fingerprint(b);
        assert!(same("/v1/orders", "/v2/orders"));
        assert!(same(
            "arn:aws:s3:::tenant-a-data",
            "arn:aws:s3:::tenant-a-data-v2"
        ));
        assert!(same("/apis/v1beta1", "/apis/v1"));
        assert!(same("kb://tenant-a", "kb://tenant-a"));
        // Unversioned families hash as they always did.
        assert_eq!(
            place_fingerprint("arn:aws:s3:::bucket"),
            fingerprint(fp_kind::RESOURCE_FAMILY, "arn:aws:s3:::bucket")
        );
        assert!(!same("/v1/orders", "/v1/admin"));
        assert!(!same("arn:aws:s3:::data", "arn:aws:s3:::data-2"));
        assert!(!same("arn:aws:s3:::vault", "arn:aws:s3:::vault-v"));
        assert!(!same("/v1/orders", "/v1/orders-archive"));
        // A name that is only a version is itself.
        assert_ne!(place_fingerprint("v2"), place_fingerprint("v3"));
        let long = format!("/v1/{}", "x".repeat(300));
        assert_eq!(
            place_fingerprint(&long),
            fingerprint(fp_kind::RESOURCE_FAMILY, &long)
        );
    }

    #[test]
    fn families() {
        assert_eq!(
            resource_family("arn:aws:s3:::bucket/a/b.csv"),
            "arn:aws:s3:::bucket"
        );
        assert_eq!(
            resource_family("/v1/customers/123/invoices"),
            "/v1/customers"
        );
        assert_eq!(resource_family("/v1"), "/v1");
        assert_eq!(resource_family("kb"), "kb");
        assert_eq!(resource_family("kb://tenant-a/items/5"), "kb://tenant-a");
        assert_eq!(resource_family("crm://x"), "crm://x");
    }
}
