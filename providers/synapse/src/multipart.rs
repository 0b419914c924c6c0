//! Synapse's multipart upload of one file: the part plan (Synapse's size rules), resuming an
//! upload that another run started (only the parts `partsState` lacks are sent), parallel
//! part PUTs to presigned URLs, adding each part with its MD5, and completion.

use std::sync::Arc;

use cubeship_provider::digest::md5_file;
use cubeship_provider::{Asset, Error, ErrorKind, NoProgress, Progress};
use futures::{StreamExt, TryStreamExt};
use serde_json::json;

use crate::api::{Api, PartPresignedUrl};

/// Smallest part Synapse accepts (the last part excepted): 5 MiB.
pub(crate) const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// Most parts one upload may have.
pub(crate) const MAX_PARTS: u64 = 10_000;
/// Largest file Synapse stores: 5 TiB (inclusive).
pub(crate) const MAX_FILE_SIZE: u64 = 5 * 1024 * 1024 * 1024 * 1024;
/// Parts sent at the same time, per file.
const PARALLEL_PARTS: usize = 4;
/// Presigned URLs asked for at once; they expire after 15 minutes, so only a few parts' worth.
const URL_BATCH: usize = 8;

/// One part: its 1-based number and byte range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Part {
    pub number: u32,
    pub offset: u64,
    pub len: u64,
}

/// The part size for a file: 5 MiB, or more when that would need over 10 000 parts. The same
/// file always gets the same size, so a later run sends the same request and resumes.
pub(crate) fn part_size(file_size: u64) -> u64 {
    MIN_PART_SIZE.max(file_size.div_ceil(MAX_PARTS))
}

/// Splits `file_size` bytes into parts of `part_size` (the last one shorter).
pub(crate) fn plan(file_size: u64, part_size: u64) -> Vec<Part> {
    let count = file_size.div_ceil(part_size).max(1);
    (0..count)
        .map(|i| {
            let offset = i * part_size;
            Part {
                number: (i + 1) as u32,
                offset,
                len: part_size.min(file_size - offset),
            }
        })
        .collect()
}

/// The parts `parts_state` (`1` added, `0` missing, one character per part) does not have.
/// A state of another length describes another plan: every part is sent again.
pub(crate) fn missing(parts: &[Part], parts_state: Option<&str>) -> Vec<Part> {
    match parts_state {
        Some(state) if state.len() == parts.len() => parts
            .iter()
            .zip(state.bytes())
            .filter(|(_, added)| *added != b'1')
            .map(|(part, _)| *part)
            .collect(),
        _ => parts.to_vec(),
    }
}

/// Uploads `asset` as `file_name` and returns the new file handle's id. An upload of the same
/// bytes that an earlier run left unfinished is resumed: Synapse recognises the same request.
pub(crate) async fn upload(
    api: &Api,
    asset: &Asset,
    file_name: &str,
    progress: Arc<dyn Progress>,
) -> Result<String, Error> {
    let path = &asset.path;
    let md5 = md5_file(path, 0, None)
        .await
        .map_err(|e| Error::from(e).context(format!("cannot read {}", path.display())))?;
    let part_size = part_size(asset.size);
    let request = json!({
        "concreteType": "org.sagebionetworks.repo.model.file.MultipartUploadRequest",
        "fileName": file_name,
        "fileSizeBytes": asset.size,
        "contentMD5Hex": md5,
        "partSizeBytes": part_size,
        "contentType": asset.content_type,
        "storageLocationId": null,
        "generatePreview": false,
    });
    let status = api.start_multipart(&request).await?;
    if let Some(id) = completed(&status) {
        progress.advance(asset.size);
        return Ok(id);
    }
    let parts = plan(asset.size, part_size);
    let to_send = missing(&parts, status.parts_state.as_deref());
    let already: u64 = asset.size - to_send.iter().map(|p| p.len).sum::<u64>();
    if already > 0 {
        tracing::info!(
            "{}: resuming a Synapse upload, {} of {} parts already there",
            path.display(),
            parts.len() - to_send.len(),
            parts.len()
        );
        progress.advance(already);
    }
    let upload_id = status.upload_id.as_str();
    for batch in to_send.chunks(URL_BATCH) {
        let numbers: Vec<u32> = batch.iter().map(|p| p.number).collect();
        let urls = api
            .presigned_part_urls(upload_id, &numbers, asset.content_type)
            .await?;
        futures::stream::iter(batch.iter().copied())
            .map(|part| {
                let url = urls.iter().find(|u| u.part_number == part.number).cloned();
                let progress = progress.clone();
                async move {
                    send_part(api, asset, upload_id, part, url).await?;
                    progress.advance(part.len);
                    Ok::<(), Error>(())
                }
            })
            .buffer_unordered(PARALLEL_PARTS)
            .try_collect::<()>()
            .await?;
    }
    let status = api.complete_multipart(upload_id).await?;
    completed(&status).ok_or_else(|| {
        Error::new(
            ErrorKind::Other,
            format!(
                "Synapse did not complete the upload of {} (state {}, parts {})",
                path.display(),
                status.state,
                status.parts_state.unwrap_or_default()
            ),
        )
    })
}

fn completed(status: &crate::api::MultipartUploadStatus) -> Option<String> {
    (status.state == "COMPLETED")
        .then(|| status.result_file_handle_id.clone())
        .flatten()
}

/// PUTs one part and adds it with its MD5. A failed attempt (a dropped connection, an expired
/// URL, an add that Synapse refused) sends the part again with a fresh URL, as Synapse asks.
async fn send_part(
    api: &Api,
    asset: &Asset,
    upload_id: &str,
    part: Part,
    first_url: Option<PartPresignedUrl>,
) -> Result<(), Error> {
    let md5 = md5_file(&asset.path, part.offset, Some(part.len))
        .await
        .map_err(Error::from)?;
    let what = format!("part {} of {}", part.number, asset.path.display());
    api.retry_policy()
        .run(&what, |attempt| {
            let first_url = first_url.clone();
            let md5 = md5.clone();
            async move {
                let url = match first_url.filter(|_| attempt == 1) {
                    Some(url) => url,
                    None => api
                        .presigned_part_urls(upload_id, &[part.number], asset.content_type)
                        .await?
                        .into_iter()
                        .next()
                        .ok_or_else(|| {
                            Error::new(
                                ErrorKind::Other,
                                format!("Synapse gave no presigned URL for part {}", part.number),
                            )
                        })?,
                };
                let watch = cubeship_provider::BodyWatch::new(part.len);
                let body = cubeship_provider::http::file_body(
                    &asset.path,
                    part.offset,
                    part.len,
                    Arc::new(NoProgress),
                    &watch,
                )
                .await?;
                api.put_part(&url, body, part.len, &watch).await?;
                let added = api.add_part(upload_id, part.number, &md5).await?;
                if added.add_part_state == "ADD_SUCCESS" {
                    Ok(())
                } else {
                    Err(Error::new(
                        ErrorKind::Integrity,
                        format!(
                            "Synapse did not add part {}: {}",
                            part.number,
                            added
                                .error_message
                                .unwrap_or_else(|| added.add_part_state.clone())
                        ),
                    )
                    .retryable(true))
                }
            }
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn part_size_follows_synapse_rules() {
        assert_eq!(part_size(1), MIN_PART_SIZE);
        assert_eq!(part_size(50_000 * MIB), MIN_PART_SIZE);
        let huge = MAX_FILE_SIZE;
        let size = part_size(huge);
        assert!(huge.div_ceil(size) <= MAX_PARTS);
        assert!(size > MIN_PART_SIZE);
        // Just over 10 000 parts of 5 MiB: rounds up instead of needing part 10 001.
        let odd = 10_000 * MIN_PART_SIZE + 1;
        assert!(odd.div_ceil(part_size(odd)) <= MAX_PARTS);
    }

    #[test]
    fn plan_covers_the_file_exactly() {
        let parts = plan(12 * MIB + 3, 5 * MIB);
        assert_eq!(parts.len(), 3);
        assert_eq!(
            parts[0],
            Part {
                number: 1,
                offset: 0,
                len: 5 * MIB
            }
        );
        assert_eq!(
            parts[2],
            Part {
                number: 3,
                offset: 10 * MIB,
                len: 2 * MIB + 3
            }
        );
        assert_eq!(parts.iter().map(|p| p.len).sum::<u64>(), 12 * MIB + 3);
        assert_eq!(plan(5 * MIB, 5 * MIB).len(), 1);
        assert_eq!(
            plan(70_000, 5 * MIB),
            [Part {
                number: 1,
                offset: 0,
                len: 70_000
            }]
        );
    }

    #[test]
    fn only_missing_parts_are_sent_again() {
        let parts = plan(20 * MIB, 5 * MIB);
        let numbers = |ps: Vec<Part>| ps.iter().map(|p| p.number).collect::<Vec<_>>();
        assert_eq!(numbers(missing(&parts, Some("1100"))), [3, 4]);
        assert_eq!(numbers(missing(&parts, Some("1010"))), [2, 4]);
        assert_eq!(numbers(missing(&parts, Some("1111"))), Vec::<u32>::new());
        assert_eq!(numbers(missing(&parts, Some("0000"))), [1, 2, 3, 4]);
        assert_eq!(numbers(missing(&parts, None)), [1, 2, 3, 4]);
        assert_eq!(numbers(missing(&parts, Some("11"))), [1, 2, 3, 4]);
    }
}
