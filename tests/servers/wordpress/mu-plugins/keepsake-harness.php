<?php
/* Plugin Name: Keepsake test harness
 * Description: Keeps the test site on this machine: no outbound HTTP, mail to
 * files instead of an MTA, no admin-email nag screen. Loaded in every request
 * and in seed.php. */

/* Loopback only. WP_HTTP_BLOCK_EXTERNAL still lets WordPress call its own host
 * (the install's permalink probe, site health): those fail fast here, so no
 * request ever waits on a connection or a DNS lookup. */
add_filter( 'pre_http_request', function ( $pre, $args, $url ) {
	return new WP_Error( 'http_request_blocked', 'Keepsake test harness: no outbound HTTP (' . $url . ')' );
}, 10, 3 );

/* No MTA on a CI machine: each wp_mail() becomes DIR/log/mail/*.json, where a
 * test can read it (e.g. a privacy-request confirmation link). */
add_filter( 'pre_wp_mail', function ( $null, $atts ) {
	$dir = KEEPSAKE_WP_DIR . '/log/mail';
	if ( ! is_dir( $dir ) ) {
		@mkdir( $dir, 0777, true );
	}
	// random_bytes, not mt_rand: seed.php's fixed-seed sequence must not move.
	$name = sprintf( '%s/%s-%s.json', $dir, gmdate( 'Ymd\THis' ), bin2hex( random_bytes( 4 ) ) );
	file_put_contents( $name, json_encode( $atts, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE ) );
	return true;
}, 10, 2 );

/* A snapshot outlives WordPress's six-month "is this still your address?"
 * screen after login, which would stand between a test and wp-admin. */
add_filter( 'admin_email_check_interval', '__return_zero' );
