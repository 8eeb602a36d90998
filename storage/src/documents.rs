//! Durable documents: small whole objects a feature keeps per tenant beside the data
//! (alert silences, the notification log, alert state), at
//! `documents/<tenant>/<name>` in the same store as the data files (local or object
//! store). A put replaces the whole document durably; readers see the old or the new
//! one, never a mix. Format: `storage/docs/format/documents.md`.

use bytes::Bytes;

use crate::{Storage, StorageError, validate_tenant};

fn path(tenant: &str, name: &str) -> Result<String, StorageError> {
    validate_tenant(tenant)?;
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        || name.starts_with('.')
    {
        return Err(StorageError::Config {
            key: "document",
            message: format!("invalid document name {name:?}"),
        });
    }
    Ok(format!("documents/{tenant}/{name}"))
}

impl Storage {
    /// Replaces `tenant`'s document `name` durably. Blocking: call it from a blocking
    /// thread.
    pub fn put_document(
        &self,
        tenant: &str,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<(), StorageError> {
        let p = path(tenant, name)?;
        self.inner.blobs.put(&p, bytes)
    }

    /// `tenant`'s document `name`, or `None` when it was never written. Blocking.
    pub fn get_document(&self, tenant: &str, name: &str) -> Result<Option<Bytes>, StorageError> {
        let p = path(tenant, name)?;
        if !self
            .inner
            .blobs
            .list(&format!("documents/{tenant}"))?
            .contains(&p)
        {
            return Ok(None);
        }
        self.inner.blobs.get(&p).map(Some)
    }

    /// `tenant`'s document names starting with `prefix`, sorted. Blocking.
    pub fn document_names(&self, tenant: &str, prefix: &str) -> Result<Vec<String>, StorageError> {
        validate_tenant(tenant)?;
        let dir = format!("documents/{tenant}/");
        let mut out: Vec<String> = self
            .inner
            .blobs
            .list(&format!("documents/{tenant}"))?
            .into_iter()
            .filter_map(|p| p.strip_prefix(&dir).map(str::to_string))
            .filter(|n| n.starts_with(prefix) && !n.contains('/'))
            .collect();
        out.sort();
        Ok(out)
    }

    /// Removes `tenant`'s document `name`; whether it existed. Blocking.
    pub fn delete_document(&self, tenant: &str, name: &str) -> Result<bool, StorageError> {
        let p = path(tenant, name)?;
        self.inner.blobs.delete(&p)
    }

    /// The tenants that have a document `name`. Blocking.
    pub fn document_tenants(&self, name: &str) -> Result<Vec<String>, StorageError> {
        let mut out: Vec<String> = self
            .inner
            .blobs
            .list("documents")?
            .into_iter()
            .filter_map(|p| {
                let rest = p.strip_prefix("documents/")?;
                let (tenant, n) = rest.split_once('/')?;
                (n == name).then(|| tenant.to_string())
            })
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::Storage;

    #[test]
    fn documents_survive_a_restart_per_tenant() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = osprey_config::StorageConfig::default();
        let s = Storage::open(dir.path(), cfg.clone()).unwrap();
        assert_eq!(s.get_document("a", "silences.json").unwrap(), None);
        s.put_document("a", "silences.json", b"[1]".to_vec())
            .unwrap();
        s.put_document("a", "silences.json", b"[2]".to_vec())
            .unwrap();
        s.put_document("b", "silences.json", b"[3]".to_vec())
            .unwrap();
        drop(s);
        let s = Storage::open(dir.path(), cfg).unwrap();
        assert_eq!(
            s.get_document("a", "silences.json")
                .unwrap()
                .unwrap()
                .as_ref(),
            b"[2]"
        );
        assert_eq!(s.document_tenants("silences.json").unwrap(), ["a", "b"]);
        s.put_document("a", "dashboard.x.json", b"{}".to_vec())
            .unwrap();
        s.put_document("a", "dashboard.x.v1.json", b"{}".to_vec())
            .unwrap();
        assert_eq!(
            s.document_names("a", "dashboard.x.").unwrap(),
            ["dashboard.x.json", "dashboard.x.v1.json"]
        );
        assert!(s.delete_document("a", "dashboard.x.v1.json").unwrap());
        assert!(!s.delete_document("a", "dashboard.x.v1.json").unwrap());
        assert_eq!(
            s.document_names("a", "dashboard.").unwrap(),
            ["dashboard.x.json"]
        );
        assert!(s.put_document("a", "../x", vec![]).is_err());
        assert!(s.put_document("../a", "x", vec![]).is_err());
    }
}
