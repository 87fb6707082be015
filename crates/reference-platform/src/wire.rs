//! JSON shapes of accounts as the contract spells them (snake_case).

use rusqlite::{Connection, OptionalExtension};
use serde_json::{Value, json};

use crate::clock;

/// An account row.
#[derive(Debug, Clone)]
pub(crate) struct UserRow {
    pub id: i64,
    pub login: String,
    pub email: String,
    pub display_name: String,
    pub bio: String,
    pub location: Option<String>,
    pub website: Option<String>,
    pub role: String,
    pub avatar_media_id: Option<i64>,
    pub created_at: i64,
    pub deleted_at: Option<i64>,
}

const USER_COLUMNS: &str = "id, login, email, display_name, bio, location, website, role, avatar_media_id, created_at, deleted_at";

fn user_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        id: r.get(0)?,
        login: r.get(1)?,
        email: r.get(2)?,
        display_name: r.get(3)?,
        bio: r.get(4)?,
        location: r.get(5)?,
        website: r.get(6)?,
        role: r.get(7)?,
        avatar_media_id: r.get(8)?,
        created_at: r.get(9)?,
        deleted_at: r.get(10)?,
    })
}

impl UserRow {
    pub fn by_id(c: &Connection, id: i64) -> rusqlite::Result<Option<Self>> {
        c.query_row(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"),
            [id],
            user_from_row,
        )
        .optional()
    }

    pub fn by_field(c: &Connection, field: &str, value: &str) -> rusqlite::Result<Option<Self>> {
        let column = if field == "email" { "email" } else { "login" };
        c.query_row(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE {column} = ?1"),
            [value],
            user_from_row,
        )
        .optional()
    }

    pub fn json(&self) -> Value {
        json!({
            "id": self.id,
            "login": self.login,
            "display_name": self.display_name,
            "role": self.role,
            "created_at": clock::rfc3339(self.created_at),
            "deleted": self.deleted_at.is_some(),
        })
    }

    pub fn profile_json(&self) -> Value {
        let mut v = self.json();
        if let Value::Object(m) = &mut v {
            m.insert("email".into(), json!(self.email));
            m.insert("bio".into(), json!(self.bio));
            m.insert("location".into(), json!(self.location));
            m.insert("website".into(), json!(self.website));
            m.insert("avatar_media_id".into(), json!(self.avatar_media_id));
        }
        v
    }
}
