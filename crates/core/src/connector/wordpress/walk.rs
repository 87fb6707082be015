//! Walking WordPress's collections so that writes during the export
//! neither skip nor repeat a record. WordPress offers only page numbers
//! and offsets, and both shift when a post is added or trashed mid-walk
//! (measured: an insert after page 1 makes a record come twice, a trash
//! from page 1 makes another never appear). So posts, pages, comments and
//! media are walked by date instead, newest first: each page asks for what
//! is dated before the last date seen (plus one second, since `before` is
//! strict and dates have seconds only) and `exclude`s the records already
//! seen at that second. A record added later is dated later and falls
//! above the walk; one trashed later was either archived already or is
//! gone. The cursor (the last date and the ids seen at it) is journaled
//! like any other, so a resumed walk goes on exactly where it stopped.
//!
//! Terms (tags, categories) are few and rarely written; they are walked by
//! page number, and a term a shift shows twice is kept once by the engine.
//! Revisions belong to a post or a page each: their walk goes over the
//! posts, then the pages, by date, and asks for the revisions of those
//! that have any.

use futures_util::stream::{self, StreamExt as _};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::wire::{Dated, PER_PAGE, rest};
use crate::client::{ApiClient, Auth};
use crate::connector::Page;
use crate::{Error, Result};

/// Where a date walk stands.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct DateCursor {
    /// The date of the last record seen (the site's local time, as sent).
    pub(super) b: Option<String>,
    /// The ids seen at that date.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) x: Vec<i64>,
    /// For revisions: whose (`posts`, then `pages`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) t: Option<String>,
}

impl DateCursor {
    /// The cursor as the journal keeps it.
    pub(super) fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A journaled cursor; one Keepsake did not write is refused.
    pub(super) fn decode(text: Option<&str>) -> Result<Self> {
        match text {
            None => Ok(Self::default()),
            Some(t) => serde_json::from_str(t).map_err(|e| {
                Error::Invalid(format!(
                    "the saved position of a WordPress walk is damaged ({e}); start the export afresh"
                ))
            }),
        }
    }
}

/// The date format WordPress sends and reads back (`2024-05-01T10:00:00`).
const DATE: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");

/// `date` plus `secs` seconds, as WordPress reads a date.
pub(super) fn shifted(date: &str, secs: i64) -> Option<String> {
    let t = time::PrimitiveDateTime::parse(date.get(..19)?, DATE).ok()?;
    (t + time::Duration::seconds(secs)).format(DATE).ok()
}

/// What a date walk asks for, besides the cursor.
pub(super) struct Walk<'a> {
    /// The collection's route (`/wp/v2/posts`).
    pub(super) route: &'a str,
    /// Its filters (author, status, context, `_fields`).
    pub(super) query: Vec<(&'static str, String)>,
    /// The session's date range: `after` (exclusive, already moved back a
    /// second from an inclusive start) and `before`.
    pub(super) after: Option<String>,
    pub(super) before: Option<String>,
}

/// One page of a date walk from `cursor`: the records and the next cursor
/// (`None` once a page comes back empty).
pub(super) async fn by_date(
    client: &ApiClient,
    walk: &Walk<'_>,
    cursor: &DateCursor,
) -> Result<(Vec<Box<RawValue>>, Option<DateCursor>)> {
    let mut query = walk.query.clone();
    query.push(("orderby", "date".into()));
    query.push(("order", "desc".into()));
    query.push(("per_page", PER_PAGE.to_string()));
    let before = match &cursor.b {
        Some(b) => Some(shifted(b, 1).ok_or_else(|| damaged_date(walk.route, b))?),
        None => walk.before.clone(),
    };
    if let Some(b) = before {
        query.push(("before", b));
    }
    if let Some(a) = &walk.after {
        query.push(("after", a.clone()));
    }
    if !cursor.x.is_empty() {
        let ids: Vec<String> = cursor.x.iter().map(i64::to_string).collect();
        query.push(("exclude", ids.join(",")));
    }
    let (items, _): (Vec<Box<RawValue>>, _) = client
        .request(Method::GET, &rest(walk.route, &query), None, Auth::Token)
        .await?;
    // An empty page ends the walk; a short one does not (WordPress drops
    // what the account may not read after paging).
    let Some(last) = items.last() else {
        return Ok((items, None));
    };
    let last: Dated = serde_json::from_str(last.get()).map_err(|e| Error::Protocol {
        url: walk.route.to_owned(),
        detail: format!("a record has no id and date: {e}"),
    })?;
    let b = last
        .date
        .filter(|d| shifted(d, 0).is_some())
        .ok_or_else(|| damaged_date(walk.route, "none"))?;
    let mut x: Vec<i64> = items
        .iter()
        .filter_map(|i| serde_json::from_str::<Dated>(i.get()).ok())
        .filter(|d| d.date.as_deref() == Some(&b))
        .map(|d| d.id)
        .collect();
    if cursor.b.as_deref() == Some(&b) {
        // Still at the same second: everything seen at it stays excluded.
        x.extend(cursor.x.iter().copied());
        x.sort_unstable();
        x.dedup();
    }
    let next = DateCursor {
        b: Some(b),
        x,
        t: cursor.t.clone(),
    };
    Ok((items, Some(next)))
}

fn damaged_date(route: &str, date: &str) -> Error {
    Error::Protocol {
        url: route.to_owned(),
        detail: format!(
            "a record's date ({:?}) is not a WordPress date, so the walk cannot go on from it",
            date.chars().take(40).collect::<String>()
        ),
    }
}

/// Where a walk by number stands: `first` where it starts (`cursor` is
/// `None`); a journaled cursor Keepsake did not write is refused.
pub(super) fn position<T: std::str::FromStr>(cursor: Option<&str>, first: T) -> Result<T> {
    match cursor {
        None => Ok(first),
        Some(c) => c.parse().map_err(|_| {
            Error::Invalid(format!(
                "the saved position of a WordPress walk ({c:?}) is damaged; start the export afresh"
            ))
        }),
    }
}

/// The query of a page of terms, `which` picking them (`page` or
/// `include`), in id order.
pub(super) fn term_query(which: (&'static str, String)) -> [(&'static str, String); 5] {
    [
        which,
        ("per_page", PER_PAGE.to_string()),
        ("orderby", "id".into()),
        ("order", "asc".into()),
        ("context", "view".into()),
    ]
}

/// One page of terms, by page number (`cursor`: the page; `None`: the
/// first).
pub(super) async fn terms(client: &ApiClient, route: &str, cursor: Option<&str>) -> Result<Page> {
    let page: u32 = position(cursor, 1)?;
    let query = term_query(("page", page.to_string()));
    let answer = client
        .request::<Vec<Box<RawValue>>>(Method::GET, &rest(route, &query), None, Auth::Token)
        .await;
    let (items, headers) = match answer {
        Ok(x) => x,
        // Past the last page: the end of the walk, not an error.
        Err(e) if is_past_the_end(&e) => {
            return Ok(Page {
                items: Vec::new(),
                next_cursor: None,
            });
        }
        Err(e) => return Err(e),
    };
    let pages: u32 = header_number(&headers, "x-wp-totalpages").unwrap_or(0) as u32;
    Ok(Page {
        next_cursor: (page < pages && !items.is_empty()).then(|| (page + 1).to_string()),
        items,
    })
}

/// WordPress's answer to a page number past the last.
pub(super) fn is_past_the_end(e: &Error) -> bool {
    e.problem().is_some_and(|p| {
        matches!(
            p.code(),
            "rest_post_invalid_page_number"
                | "rest_term_invalid_page_number"
                | "rest_invalid_page_number"
        )
    })
}

/// The cursors one walk inside a single call has moved to. A site that
/// ignores `before` and `exclude` (a cache keyed without the query string,
/// a broken plugin) would answer the same page forever; the engine's own
/// guards see only what a call returns, not the pages it walks past.
#[derive(Default)]
pub(super) struct Moved(std::collections::HashSet<String>);

impl Moved {
    /// Moves on to `next`, unless the walk was there before.
    pub(super) fn to(&mut self, route: &str, next: &DateCursor) -> Result<()> {
        if self.0.insert(next.encode()) {
            return Ok(());
        }
        Err(Error::Protocol {
            url: route.to_owned(),
            detail: "the site answered a page it had already given for the next one (it may \
                     ignore the `before` and `exclude` parameters); the walk was stopped"
                .into(),
        })
    }
}

/// The most revisions read of one post or page (at a hundred a page): a
/// site that keeps announcing more pages is stopped there.
const MAX_REVISIONS: u32 = 10_000;

/// A number in a header (`X-WP-Total`), if the header holds one.
pub(super) fn header_number(headers: &reqwest::header::HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The revisions of the posts (then the pages) on one page of their date
/// walk that have any; walks on past pages without any, so that a page is
/// never empty unless the walk is over.
pub(super) async fn revisions(
    client: &ApiClient,
    parents: &(dyn Fn(&str) -> Option<Walk<'static>> + Sync),
    cursor: Option<&str>,
) -> Result<Page> {
    let mut cursor = DateCursor::decode(cursor)?;
    let mut moved = Moved::default();
    loop {
        let kind = cursor.t.clone().unwrap_or_else(|| "posts".into());
        let Some(walk) = parents(&kind) else {
            return Ok(Page {
                items: Vec::new(),
                next_cursor: None,
            });
        };
        let (items, next) = by_date(client, &walk, &cursor).await?;
        // Only those WordPress says have revisions are asked, a few at once.
        let with: Vec<i64> = items
            .iter()
            .filter_map(|i| serde_json::from_str::<serde_json::Value>(i.get()).ok())
            .filter(|v| {
                v.pointer("/_links/version-history/0/count")
                    .and_then(serde_json::Value::as_u64)
                    .is_some_and(|n| n > 0)
            })
            .filter_map(|v| v["id"].as_i64())
            .collect();
        let found: Vec<Result<Vec<Box<RawValue>>>> = stream::iter(with)
            .map(|id| of(client, &kind, id))
            .buffered(3)
            .collect()
            .await;
        let mut revisions = Vec::new();
        for f in found {
            revisions.extend(f?);
        }
        let next = match next {
            Some(n) => Some(n),
            // The posts are done: the pages' revisions next.
            None if kind == "posts" => Some(DateCursor {
                t: Some("pages".into()),
                ..DateCursor::default()
            }),
            None => None,
        };
        match next {
            Some(n) if revisions.is_empty() => {
                moved.to(walk.route, &n)?;
                cursor = n;
            }
            next => {
                return Ok(Page {
                    items: revisions,
                    next_cursor: next.map(|n| n.encode()),
                });
            }
        }
    }
}

/// Every revision of post (or page) `id`.
async fn of(client: &ApiClient, kind: &str, id: i64) -> Result<Vec<Box<RawValue>>> {
    let route = format!("/wp/v2/{kind}/{id}/revisions");
    let mut all = Vec::new();
    for page in 1u32.. {
        if (page - 1) * PER_PAGE >= MAX_REVISIONS {
            return Err(Error::Protocol {
                url: route,
                detail: format!(
                    "the site lists more than {MAX_REVISIONS} revisions of one {}; the export \
                     was stopped",
                    kind.trim_end_matches('s')
                ),
            });
        }
        let query = [
            ("context", "edit".to_owned()),
            ("per_page", PER_PAGE.to_string()),
            ("page", page.to_string()),
        ];
        let answer = client
            .request::<Vec<Box<RawValue>>>(Method::GET, &rest(&route, &query), None, Auth::Token)
            .await;
        let (items, headers) = match answer {
            Ok(x) => x,
            Err(e) if is_past_the_end(&e) => break,
            Err(e) => return Err(e),
        };
        // An empty page ends it, whatever the header promises.
        if items.is_empty() {
            break;
        }
        all.extend(items);
        if u64::from(page) >= header_number(&headers, "x-wp-totalpages").unwrap_or(1) {
            break;
        }
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_walk_that_comes_back_to_a_cursor_is_stopped() {
        let mut moved = Moved::default();
        let at = |b: &str, x: Vec<i64>| DateCursor {
            b: Some(b.into()),
            x,
            t: None,
        };
        moved
            .to("/wp/v2/posts", &at("2024-01-02T00:00:00", vec![]))
            .expect("new");
        moved
            .to("/wp/v2/posts", &at("2024-01-01T00:00:00", vec![7]))
            .expect("new");
        moved
            .to("/wp/v2/posts", &at("2024-01-01T00:00:00", vec![7, 8]))
            .expect("new");
        let again = moved.to("/wp/v2/posts", &at("2024-01-01T00:00:00", vec![7]));
        assert!(
            matches!(&again, Err(Error::Protocol { detail, .. }) if detail.contains("already")),
            "{again:?}"
        );
    }

    #[test]
    fn dates_move_by_whole_seconds_across_days() {
        assert_eq!(
            shifted("2024-12-31T23:59:59", 1).as_deref(),
            Some("2025-01-01T00:00:00")
        );
        assert_eq!(
            shifted("2024-03-01T00:00:00", -1).as_deref(),
            Some("2024-02-29T23:59:59")
        );
        assert_eq!(shifted("yesterday", 1), None);
        assert_eq!(shifted("", 1), None);
    }

    #[test]
    fn a_cursor_goes_through_the_journal_and_a_damaged_one_is_refused() {
        let c = DateCursor {
            b: Some("2024-05-01T10:00:00".into()),
            x: vec![7, 9],
            t: Some("pages".into()),
        };
        assert_eq!(DateCursor::decode(Some(&c.encode())).expect("read"), c);
        assert_eq!(
            DateCursor::decode(None).expect("start"),
            DateCursor::default()
        );
        assert!(DateCursor::decode(Some("page=3")).is_err());
    }

    #[test]
    fn routes_and_values_are_escaped() {
        assert_eq!(
            rest(
                "/wp/v2/posts",
                &[
                    ("exclude", "1,2".into()),
                    ("before", "2024-05-01T10:00:00".into())
                ]
            ),
            "?rest_route=/wp/v2/posts&exclude=1%2C2&before=2024-05-01T10%3A00%3A00"
        );
    }
}
