//! CloudTrail names an API call by its event source and event name; IAM
//! names the permission. They mostly agree (`s3.amazonaws.com` +
//! `GetObject` is `s3:GetObject`), but not always: CloudWatch logs as
//! `monitoring`, Lambda suffixes its API version (`CreateFunction20150331`),
//! and S3 has calls whose permission has another name. Grants are matched,
//! and suggestions written, with the permission's name.

use std::borrow::Cow;

/// Event sources whose IAM service prefix differs.
const PREFIXES: &[(&str, &str)] = &[("monitoring", "cloudwatch")];

/// S3 calls authorized by a permission of another name (AWS's S3
/// documentation, "Policy actions for Amazon S3").
const S3: &[(&str, &str)] = &[
    ("ListBuckets", "ListAllMyBuckets"),
    ("ListObjects", "ListBucket"),
    ("ListObjectsV2", "ListBucket"),
    ("HeadBucket", "ListBucket"),
    ("HeadObject", "GetObject"),
    ("ListObjectVersions", "ListBucketVersions"),
    ("DeleteObjects", "DeleteObject"),
    ("GetBucketLifecycle", "GetLifecycleConfiguration"),
    (
        "GetBucketLifecycleConfiguration",
        "GetLifecycleConfiguration",
    ),
    ("PutBucketLifecycle", "PutLifecycleConfiguration"),
    (
        "PutBucketLifecycleConfiguration",
        "PutLifecycleConfiguration",
    ),
    ("DeleteBucketLifecycle", "PutLifecycleConfiguration"),
    ("GetBucketEncryption", "GetEncryptionConfiguration"),
    ("PutBucketEncryption", "PutEncryptionConfiguration"),
    ("DeleteBucketEncryption", "PutEncryptionConfiguration"),
    ("GetBucketReplication", "GetReplicationConfiguration"),
    ("PutBucketReplication", "PutReplicationConfiguration"),
    ("DeleteBucketReplication", "PutReplicationConfiguration"),
    ("GetBucketCors", "GetBucketCORS"),
    ("PutBucketCors", "PutBucketCORS"),
    ("DeleteBucketCors", "PutBucketCORS"),
    ("DeleteBucketTagging", "PutBucketTagging"),
    ("DeleteBucketWebsite", "DeleteBucketWebsite"),
    ("GetObjectAttributes", "GetObjectAttributes"),
    ("CreateMultipartUpload", "PutObject"),
    ("UploadPart", "PutObject"),
    ("CompleteMultipartUpload", "PutObject"),
    ("UploadPartCopy", "PutObject"),
    (
        "GetBucketNotificationConfiguration",
        "GetBucketNotification",
    ),
    (
        "PutBucketNotificationConfiguration",
        "PutBucketNotification",
    ),
];

/// The IAM permission an observed `service:EventName` action needs.
pub fn permission(action: &str) -> Cow<'_, str> {
    let Some((svc, name)) = action.split_once(':') else {
        return action.into();
    };
    let svc = PREFIXES
        .iter()
        .find(|(s, _)| *s == svc)
        .map_or(svc, |(_, p)| p);
    let name = match svc {
        "lambda" => strip_api_version(name),
        "s3" => S3.iter().find(|(e, _)| *e == name).map_or(name, |(_, p)| p),
        _ => name,
    };
    if svc.len() + name.len() + 1 == action.len() && action.starts_with(svc) {
        action.into()
    } else {
        format!("{svc}:{name}").into()
    }
}

/// `CreateFunction20150331` and `AddPermission20150331v2` are
/// `CreateFunction` and `AddPermission`.
fn strip_api_version(name: &str) -> &str {
    let b = name.as_bytes();
    let mut end = b.len();
    // An optional `v<digits>` after the date.
    let mut i = end;
    while i > 0 && b[i - 1].is_ascii_digit() {
        i -= 1;
    }
    if i < end && i > 0 && b[i - 1] == b'v' {
        end = i - 1;
    }
    let digits = b[..end]
        .iter()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .count();
    if digits == 8 && end > 8 && b[end - 8..end].starts_with(b"20") {
        &name[..end - 8]
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::permission;

    #[test]
    fn event_names_become_permissions() {
        assert_eq!(permission("s3:GetObject"), "s3:GetObject");
        assert_eq!(
            permission("lambda:CreateFunction20150331"),
            "lambda:CreateFunction"
        );
        assert_eq!(
            permission("lambda:AddPermission20150331v2"),
            "lambda:AddPermission"
        );
        assert_eq!(
            permission("lambda:GetFunctionCodeSigningConfig"),
            "lambda:GetFunctionCodeSigningConfig"
        );
        assert_eq!(
            permission("monitoring:DescribeAlarms"),
            "cloudwatch:DescribeAlarms"
        );
        assert_eq!(permission("s3:ListBuckets"), "s3:ListAllMyBuckets");
        assert_eq!(
            permission("s3:GetBucketLifecycle"),
            "s3:GetLifecycleConfiguration"
        );
        assert_eq!(permission("GET /v1/items"), "GET /v1/items");
    }
}
