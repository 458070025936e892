//! Wildcard patterns as IAM writes them: `*` matches any run of characters
//! (including none), `?` exactly one; everything else literally. IAM action
//! names compare without regard to case; canonical patterns compare exactly.

/// A compiled action pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    text: Box<str>,
    fold_case: bool,
}

impl Pattern {
    /// An IAM action pattern (`s3:Get*`), compared without regard to case.
    pub fn iam(text: &str) -> Self {
        Pattern {
            text: text.into(),
            fold_case: true,
        }
    }

    /// A pattern compared exactly (canonical grants, RBAC names).
    pub fn exact(text: &str) -> Self {
        Pattern {
            text: text.into(),
            fold_case: false,
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether it has a wildcard (so a suggestion should narrow it).
    pub fn is_wildcard(&self) -> bool {
        self.text.contains(['*', '?'])
    }

    /// Whether `value` matches the whole pattern.
    pub fn matches(&self, value: &str) -> bool {
        glob(self.text.as_bytes(), value.as_bytes(), self.fold_case)
    }
}

/// Iterative glob: on a mismatch after a `*`, the star takes one more
/// character and matching resumes (at most pattern × value steps, no
/// recursion, so no pattern can blow the stack).
fn glob(p: &[u8], v: &[u8], fold: bool) -> bool {
    let eq = |a: u8, b: u8| {
        if fold {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut pi, mut vi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, vi));
            pi += 1;
        } else if pi < p.len() && (p[pi] == b'?' || eq(p[pi], v[vi])) {
            pi += 1;
            vi += 1;
        } else if let Some((sp, sv)) = star {
            pi = sp + 1;
            vi = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn iam_wildcards() {
        let get = Pattern::iam("s3:Get*");
        assert!(get.matches("s3:GetObject"));
        assert!(get.matches("S3:getobject"), "IAM actions ignore case");
        assert!(get.matches("s3:Get"));
        assert!(!get.matches("s3:PutObject"));
        assert!(!get.matches("s3x:GetObject"));
        assert!(Pattern::iam("*").matches("iam:CreateUser"));
        assert!(Pattern::iam("s3:*").matches("s3:ListBucket"));
        assert!(!Pattern::iam("s3:*").matches("sqs:ListQueues"));
        assert!(Pattern::iam("ec2:Describe?nstances").matches("ec2:DescribeInstances"));
        assert!(Pattern::iam("*:List*").matches("sqs:ListQueues"));
        assert!(!Pattern::exact("s3:get*").matches("s3:GetObject"));
    }

    /// A reference matcher: the classic recursive definition.
    fn reference(p: &[u8], v: &[u8]) -> bool {
        match (p.first(), v.first()) {
            (None, None) => true,
            (Some(b'*'), _) => reference(&p[1..], v) || (!v.is_empty() && reference(p, &v[1..])),
            (Some(b'?'), Some(_)) => reference(&p[1..], &v[1..]),
            (Some(a), Some(b)) if a == b => reference(&p[1..], &v[1..]),
            _ => false,
        }
    }

    proptest! {
        #[test]
        fn agrees_with_the_recursive_definition(p in "[ab*?]{0,8}", v in "[ab]{0,10}") {
            prop_assert_eq!(glob(p.as_bytes(), v.as_bytes(), false), reference(p.as_bytes(), v.as_bytes()));
        }
    }
}
