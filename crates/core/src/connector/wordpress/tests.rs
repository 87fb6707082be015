use super::*;

fn media(details: Value) -> wire::Media {
    serde_json::from_value(json!({
        "id": 41,
        "source_url": "https://blog.example/wp-content/uploads/2024/05/photo-scaled.jpg",
        "mime_type": "image/jpeg",
        "media_details": details,
    }))
    .expect("media")
}

#[test]
fn the_original_of_a_scaled_image_is_the_file_taken() {
    let f = original(media(
        json!({"filesize": 900, "original_image": "photo.jpg"}),
    ))
    .expect("a file");
    assert_eq!(
        f.url,
        "https://blog.example/wp-content/uploads/2024/05/photo.jpg"
    );
    assert_eq!((f.name.as_str(), f.size), ("photo.jpg", None));
    assert_eq!((f.key.as_str(), f.auth), ("41", Auth::Omit));
    let plain = original(media(json!({"filesize": 900}))).expect("a file");
    assert_eq!(plain.name, "photo-scaled.jpg");
    assert_eq!(plain.size, Some(900));
    // A name that would climb out of the folder is not followed.
    let odd = original(media(json!({"original_image": "../../x.jpg"}))).expect("a file");
    assert_eq!(odd.name, "photo-scaled.jpg");
}

#[test]
fn a_date_range_is_read_as_the_site_reads_dates() {
    let r = OpenRequest {
        since: Some("2024-01-31".into()),
        until: Some("2024-02-01T12:00:00".into()),
        ..Default::default()
    };
    assert_eq!(
        range(&r).expect("dates"),
        (
            Some("2024-01-31T00:00:00".into()),
            Some("2024-02-01T12:00:00".into())
        )
    );
    let bad = OpenRequest {
        since: Some("last week".into()),
        ..Default::default()
    };
    assert!(range(&bad).is_err());
    // A zone is not cut off unread: the site compares its own time.
    for zoned in ["2024-01-31T00:00:00Z", "2024-01-31T00:00:00+02:00"] {
        let r = OpenRequest {
            until: Some(zoned.into()),
            ..Default::default()
        };
        let e = range(&r).expect_err(zoned);
        assert!(e.to_string().contains("the site's own time"), "{e}");
    }
}

#[test]
fn refusals_ask_to_sign_in_again_in_the_sites_words() {
    let e = refused(
        Error::Status {
            status: 403,
            url: "u".into(),
            problem: Some(Box::new(
                serde_json::from_value(
                    json!({"code": "rest_forbidden", "message": "Sorry, you are not allowed."}),
                )
                .expect("problem"),
            )),
            retry_after: None,
        },
        "read the profile",
    );
    assert_eq!(e.class(), crate::Class::NeedsSignIn);
    assert!(e.to_string().contains("Sorry, you are not allowed."), "{e}");
}

#[test]
fn a_page_number_past_the_last_ends_a_walk_and_nothing_else_does() {
    let status = |code: &str| {
        Error::Status {
        status: 400,
        url: "u".into(),
        problem: Some(Box::new(
            serde_json::from_value(json!({
                "code": code,
                "message": "The page number requested is larger than the number of pages available.",
                "data": {"status": 400}
            }))
            .expect("problem"),
        )),
        retry_after: None,
    }
    };
    for end in [
        "rest_post_invalid_page_number",
        "rest_term_invalid_page_number",
        "rest_invalid_page_number",
    ] {
        assert!(walk::is_past_the_end(&status(end)), "{end}");
    }
    assert!(!walk::is_past_the_end(&status("rest_invalid_param")));
    assert!(!walk::is_past_the_end(&Error::Network {
        url: "u".into(),
        detail: "reset".into(),
    }));
}
