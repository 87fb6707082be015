//! The tags and categories an export takes: those its posts use, not the
//! whole site's. WordPress lists terms by site, so the session finds the
//! ids first, when it opens: one walk over the subject's posts (the same
//! date walk, dates and filters as the export's, asking only for each
//! post's `tags` and `categories`), kept in the session's notes so that a
//! resumed export asks for the same terms. The terms are then read by id,
//! a hundred at a time.
//!
//! A session staged before the ids were kept (an export interrupted under
//! an older version) takes the site's terms, as that version did.

use std::collections::BTreeSet;

use reqwest::Method;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::walk::{self, DateCursor, Walk};
use super::wire::{PER_PAGE, rest};
use crate::client::{ApiClient, Auth};
use crate::connector::{Page, Session};
use crate::{Error, Result};

/// The kinds of term a post carries, as WordPress names both the post's
/// field and the collection.
pub(super) const KINDS: [&str; 2] = ["tags", "categories"];

/// The ids of the terms of each kind that `posts` (the subject's date
/// walk) use, in id order.
pub(super) async fn used(client: &ApiClient, posts: Walk<'_>) -> Result<[Vec<i64>; 2]> {
    #[derive(Deserialize)]
    struct Terms {
        #[serde(default)]
        tags: Vec<i64>,
        #[serde(default)]
        categories: Vec<i64>,
    }
    let mut walk = posts;
    walk.query
        .push(("_fields", "id,date,tags,categories".into()));
    let (mut tags, mut categories) = (BTreeSet::new(), BTreeSet::new());
    let mut cursor = DateCursor::default();
    let mut moved = walk::Moved::default();
    loop {
        let (items, next) = walk::by_date(client, &walk, &cursor).await?;
        for item in &items {
            let t: Terms = serde_json::from_str(item.get()).map_err(|e| Error::Protocol {
                url: walk.route.to_owned(),
                detail: format!("a post's tags and categories are not lists of ids: {e}"),
            })?;
            tags.extend(t.tags);
            categories.extend(t.categories);
        }
        match next {
            Some(n) => {
                moved.to(walk.route, &n)?;
                cursor = n;
            }
            None => break,
        }
    }
    Ok([tags.into_iter().collect(), categories.into_iter().collect()])
}

/// The ids of `kind` the session keeps, if it keeps any (`None`: a session
/// staged before they were kept).
pub(super) fn kept(session: &Session, kind: &str) -> Option<Vec<i64>> {
    let ids = session.notes.get("term_ids")?.get(kind)?.as_array()?;
    Some(ids.iter().filter_map(serde_json::Value::as_i64).collect())
}

/// One page of the terms of `kind` the session keeps (`cursor`: the index
/// of the first id on it), or of the site's whole list for a session that
/// keeps none.
pub(super) async fn page(
    client: &ApiClient,
    session: &Session,
    kind: &str,
    cursor: Option<&str>,
) -> Result<Page> {
    let route = format!("/wp/v2/{kind}");
    let Some(ids) = kept(session, kind) else {
        return walk::terms(client, &route, cursor).await;
    };
    let from: usize = walk::position(cursor, 0)?;
    let chunk = ids.get(from..).unwrap_or_default();
    let chunk = &chunk[..chunk.len().min(PER_PAGE as usize)];
    if chunk.is_empty() {
        return Ok(Page {
            items: Vec::new(),
            next_cursor: None,
        });
    }
    let include: Vec<String> = chunk.iter().map(i64::to_string).collect();
    let query = walk::term_query(("include", include.join(",")));
    let (items, _): (Vec<Box<RawValue>>, _) = client
        .request(Method::GET, &rest(&route, &query), None, Auth::Token)
        .await?;
    let next = from + chunk.len();
    Ok(Page {
        items,
        next_cursor: (next < ids.len()).then(|| next.to_string()),
    })
}
