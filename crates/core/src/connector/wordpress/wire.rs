//! WordPress's REST API (`wp/v2`) as Keepsake uses it: the addresses, the
//! few fields it reads itself, and the categories it exports. Records are
//! archived as WordPress sent them; only what is read here is typed.

use std::borrow::Cow;

use serde::Deserialize;

use super::super::{Category, CategoryKind, Column, Order, View, col};

/// Records per page: WordPress's maximum.
pub(super) const PER_PAGE: u32 = 100;

/// The address of a REST route with its query. `?rest_route=` works on
/// every WordPress, with or without pretty permalinks (`/wp-json/` needs
/// them), so it is the one form used.
pub(super) fn rest(route: &str, query: &[(&str, String)]) -> String {
    let mut path = format!(
        "?rest_route={}",
        super::super::encode(route).replace("%2F", "/")
    );
    for (k, v) in query {
        path.push('&');
        path.push_str(k);
        path.push('=');
        path.push_str(&super::super::encode(v));
    }
    path
}

/// The site's REST index (`?rest_route=/`), unauthenticated: what
/// detection and the browser sign-in read.
#[derive(Deserialize)]
pub(super) struct Index {
    #[serde(default)]
    pub(super) namespaces: Vec<String>,
    #[serde(default)]
    pub(super) authentication: serde_json::Value,
}

impl Index {
    /// The authorisation page for application passwords, if the site
    /// offers them.
    pub(super) fn authorize_url(&self) -> Option<&str> {
        self.authentication
            .pointer("/application-passwords/endpoints/authorization")
            .and_then(serde_json::Value::as_str)
    }
}

/// A user as `users/{id}?context=edit` shows it (what Keepsake reads).
#[derive(Deserialize)]
pub(super) struct User {
    pub(super) id: i64,
    /// The login (edit context only).
    #[serde(default)]
    pub(super) username: Option<String>,
    #[serde(default)]
    pub(super) slug: String,
    #[serde(default)]
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) capabilities: std::collections::BTreeMap<String, serde_json::Value>,
}

impl User {
    /// Whether the user has capability `cap`.
    pub(super) fn can(&self, cap: &str) -> bool {
        self.capabilities
            .get(cap)
            .is_some_and(|v| v.as_bool() == Some(true))
    }

    /// Whether the user may read every other user's posts, pages, comments
    /// and media: what support access is on a WordPress site.
    pub(super) fn is_admin(&self) -> bool {
        [
            "list_users",
            "edit_others_posts",
            "edit_others_pages",
            "moderate_comments",
        ]
        .iter()
        .all(|c| self.can(c))
    }

    pub(super) fn login(&self) -> String {
        self.username.clone().unwrap_or_else(|| self.slug.clone())
    }
}

/// The application password a request was signed with (`introspect`).
#[derive(Deserialize)]
pub(super) struct AppPassword {
    pub(super) uuid: String,
    /// The app it was made for, if one asked for it (`""` otherwise).
    #[serde(default)]
    pub(super) app_id: Option<String>,
}

/// A dated record, as the date walk reads it.
#[derive(Deserialize)]
pub(super) struct Dated {
    pub(super) id: i64,
    /// The site's local time, as WordPress compares `before` against.
    pub(super) date: Option<String>,
}

/// A media record, as the download reads it.
#[derive(Deserialize)]
pub(super) struct Media {
    pub(super) id: i64,
    #[serde(default)]
    pub(super) source_url: String,
    #[serde(default)]
    pub(super) mime_type: String,
    #[serde(default)]
    pub(super) media_details: serde_json::Value,
}

/// The names of [`categories`], in their order.
pub(super) const NAMES: [&str; 8] = [
    "profile",
    "posts",
    "pages",
    "comments",
    "media",
    "revisions",
    "tags",
    "categories",
];

/// The site's own categories, in the order to show them.
pub(super) fn categories() -> Vec<Category> {
    vec![
        profile(),
        entries("posts", "Posts", POST_CSV),
        entries("pages", "Pages", POST_CSV),
        Category {
            view: View {
                title: None,
                who: Some(Cow::Borrowed("/author_name")),
                tag: Some(Cow::Borrowed("/status")),
                ..entries_view()
            },
            ..entries("comments", "Comments", COMMENT_CSV)
        },
        Category {
            kind: CategoryKind::Files,
            names_files: true,
            view: View {
                title: Some(Cow::Borrowed("/title/rendered")),
                date: Some(Cow::Borrowed("/date")),
                ..View::style("files")
            },
            ..entries("media", "Media", MEDIA_CSV)
        },
        Category {
            view: View {
                tag: None,
                ..entries_view()
            },
            ..entries("revisions", "Revisions", REVISION_CSV)
        },
        terms("tags", "Tags"),
        terms("categories", "Categories"),
    ]
}

fn profile() -> Category {
    Category {
        name: Cow::Borrowed("profile"),
        label: Cow::Borrowed("Profile"),
        kind: CategoryKind::Single,
        key: Cow::Borrowed("/id"),
        order: Order::Unordered,
        csv: Cow::Borrowed(&[]),
        view: View::style("profile"),
        names_files: false,
        strip: Cow::Borrowed(&[]),
        marker: None,
        container: None,
    }
}

/// How posts, pages, comments and revisions are shown: titled texts of
/// HTML the site rendered, newest first.
fn entries_view() -> View {
    View {
        title: Some(Cow::Borrowed("/title/rendered")),
        html: Some(Cow::Borrowed("/content/rendered")),
        date: Some(Cow::Borrowed("/date")),
        tag: Some(Cow::Borrowed("/status")),
        ..View::style("entries")
    }
}

fn entries(name: &'static str, label: &'static str, csv: &'static [Column]) -> Category {
    Category {
        name: Cow::Borrowed(name),
        label: Cow::Borrowed(label),
        kind: CategoryKind::Records,
        key: Cow::Borrowed("/id"),
        // The date walk goes from the newest.
        order: Order::Descending,
        csv: Cow::Borrowed(csv),
        view: entries_view(),
        names_files: false,
        strip: Cow::Borrowed(&[]),
        marker: None,
        container: None,
    }
}

fn terms(name: &'static str, label: &'static str) -> Category {
    Category {
        name: Cow::Borrowed(name),
        label: Cow::Borrowed(label),
        kind: CategoryKind::Records,
        key: Cow::Borrowed("/id"),
        order: Order::Ascending,
        csv: Cow::Borrowed(TERM_CSV),
        view: View {
            title: Some(Cow::Borrowed("/name")),
            text: Some(Cow::Borrowed("/description")),
            tag: Some(Cow::Borrowed("/count")),
            ..View::style("entries")
        },
        names_files: false,
        strip: Cow::Borrowed(&[]),
        marker: None,
        container: None,
    }
}

const POST_CSV: &[Column] = &[
    col("id", "/id"),
    col("date", "/date"),
    col("date_gmt", "/date_gmt"),
    col("status", "/status"),
    col("title", "/title/rendered"),
    col("link", "/link"),
    col("slug", "/slug"),
    col("categories", "/categories"),
    col("tags", "/tags"),
];

const COMMENT_CSV: &[Column] = &[
    col("id", "/id"),
    col("date", "/date"),
    col("date_gmt", "/date_gmt"),
    col("status", "/status"),
    col("post", "/post"),
    col("parent", "/parent"),
    col("content", "/content/rendered"),
    col("link", "/link"),
];

const MEDIA_CSV: &[Column] = &[
    col("id", "/id"),
    col("date", "/date"),
    col("title", "/title/rendered"),
    col("mime_type", "/mime_type"),
    col("source_url", "/source_url"),
    col("post", "/post"),
    col("alt_text", "/alt_text"),
];

const REVISION_CSV: &[Column] = &[
    col("id", "/id"),
    col("parent", "/parent"),
    col("date", "/date"),
    col("title", "/title/rendered"),
];

const TERM_CSV: &[Column] = &[
    col("id", "/id"),
    col("name", "/name"),
    col("slug", "/slug"),
    col("count", "/count"),
    col("parent", "/parent"),
    col("description", "/description"),
];

#[cfg(test)]
mod tests {
    #[test]
    fn the_names_are_the_categories() {
        let names: Vec<String> = super::categories()
            .into_iter()
            .map(|c| c.name.into_owned())
            .collect();
        assert_eq!(names, super::NAMES);
    }
}
