<?php
/* Installs WordPress into an empty database and seeds it, deterministically:
 * fixed dates, fixed passwords, and mt_rand from a fixed seed for every other
 * choice (WordPress's UUIDs use mt_rand too, so they come out the same).
 *   KEEPSAKE_WP_ABSPATH=DIR/wordpress/ php seed.php OUT.json   (run by wp.sh seed)
 * OUT.json gets the facts the tests compare against, counted from the database
 * at the end rather than from this script's intentions. */
if ( PHP_SAPI !== 'cli' || $argc !== 2 ) {
	fwrite( STDERR, "usage: KEEPSAKE_WP_ABSPATH=... php seed.php OUT.json\n" );
	exit( 2 );
}
$out_file = $argv[1];
define( 'ABSPATH', getenv( 'KEEPSAKE_WP_ABSPATH' ) );   // see router.php
$_SERVER['HTTP_HOST']      = 'wordpress.test';
$_SERVER['SERVER_NAME']    = 'wordpress.test';
$_SERVER['SERVER_PORT']    = '80';
$_SERVER['REQUEST_URI']    = '/';
$_SERVER['REQUEST_METHOD'] = 'GET';
define( 'WP_INSTALLING', true );   // else wp-settings.php redirects to install.php and exits
define( 'WP_DISABLE_FATAL_ERROR_HANDLER', true );   // a PHP error, not an HTML page, on stderr
require ABSPATH . 'wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/image.php';
require_once ABSPATH . 'wp-admin/includes/file.php';
require_once ABSPATH . 'wp-admin/includes/media.php';

$t0 = microtime( true );
function seed_say( $m ) {
	global $t0;
	fprintf( STDERR, "[seed %6.2fs] %s\n", microtime( true ) - $t0, $m );
}
function seed_fail( $what, $err ) {
	seed_say( "FAILED: $what: " . ( is_wp_error( $err ) ? $err->get_error_message() : var_export( $err, true ) ) );
	exit( 1 );
}
function seed_pick( array $a ) {
	return $a[ mt_rand( 0, count( $a ) - 1 ) ];
}
mt_srand( 20150101 );

// ---------------------------------------------------------------------------
// Site and users

$users = array(
	'admin'   => array( 'password' => 'admin-password-1', 'email' => 'admin@example.test', 'role' => 'administrator',
		'display_name' => 'Site Admin', 'registered' => '2014-03-01 09:00:00' ),
	'author'  => array( 'password' => 'author-password-1', 'email' => 'author@example.test', 'role' => 'author',
		'display_name' => 'Ada Ångström ✍️', 'first_name' => 'Ada', 'last_name' => 'Ångström',
		'description' => 'Writes about <b>everything</b> — עברית, العربية, 日本語 🌍', 'user_url' => 'https://ada.example.test',
		'registered' => '2014-05-12 10:20:30' ),
	'author2' => array( 'password' => 'author2-password-1', 'email' => 'author2@example.test', 'role' => 'author',
		'display_name' => 'نور الهدى', 'first_name' => 'نور', 'last_name' => 'الهدى', 'registered' => '2016-11-02 18:45:00' ),
);
$r = wp_install( 'Keepsake Test Blog', 'admin', $users['admin']['email'], true, '', $users['admin']['password'], '' );
$users['admin']['id'] = (int) $r['user_id'];
// Normal option caching from here on: in installing mode every get_option() is a query.
wp_installing( false );
foreach ( array(
	'blogdescription' => 'A seeded site for Keepsake’s tests — ünïcödé 🌍', 'timezone_string' => 'Europe/Berlin',
	'gmt_offset' => '', 'comment_moderation' => 0, 'comments_notify' => 0, 'moderation_notify' => 0,
	'default_pingback_flag' => 0, 'default_ping_status' => 'closed', 'thread_comments' => 1,
) as $k => $v ) {
	update_option( $k, $v );
}
// wp_install's sample post, page, privacy page and comment: the facts below are ours only.
foreach ( get_posts( array( 'post_type' => 'any', 'post_status' => 'any', 'numberposts' => -1 ) ) as $p ) {
	wp_delete_post( $p->ID, true );
}
update_option( 'wp_page_for_privacy_policy', 0 );
// set_permalink_structure() also resets $wp_rewrite in memory, which a plain
// update_option() would not (stale rules make every permalink 404).
global $wp_rewrite, $wpdb;
$wp_rewrite->set_permalink_structure( '/%year%/%monthnum%/%postname%/' );
$wp_rewrite->flush_rules( false );   // soft: never writes .htaccess

// Deterministic application passwords: WordPress draws them through this filter.
add_filter( 'random_password', function ( $password, $length ) {
	$chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
	$s     = '';
	for ( $i = 0; $i < $length; $i++ ) {
		$s .= $chars[ mt_rand( 0, 61 ) ];
	}
	return $s;
}, 10, 2 );
foreach ( $users as $login => &$u ) {
	$fields = array( 'user_login' => $login, 'user_pass' => $u['password'], 'user_email' => $u['email'], 'role' => $u['role'],
		'display_name' => $u['display_name'], 'nickname' => $u['display_name'], 'user_registered' => $u['registered'] );
	foreach ( array( 'first_name', 'last_name', 'description', 'user_url' ) as $k ) {
		if ( isset( $u[ $k ] ) ) {
			$fields[ $k ] = $u[ $k ];
		}
	}
	if ( isset( $u['id'] ) ) {   // admin, made by wp_install() with this password already
		$fields['ID'] = $u['id'];
		unset( $fields['user_pass'] );   // a "new" password would also send a change e-mail
		$id = wp_update_user( $fields );
	} else {
		$id = wp_insert_user( $fields );
	}
	if ( is_wp_error( $id ) ) {
		seed_fail( "user $login", $id );
	}
	$u['id'] = (int) $id;
	$r = WP_Application_Passwords::create_new_application_password( $u['id'], array( 'name' => 'seed', 'app_id' => wp_generate_uuid4() ) );
	if ( is_wp_error( $r ) ) {
		seed_fail( "application password of $login", $r );
	}
	$u['app_password']      = $r[0];
	$u['app_password_uuid'] = $r[1]['uuid'];
	$u['app_id']            = $r[1]['app_id'];
}
unset( $u );
$uid = array_map( function ( $u ) { return $u['id']; }, $users );
seed_say( 'installed; users admin, author, author2 with application passwords' );

// ---------------------------------------------------------------------------
// Content: hostile HTML must reach the database as written, so no KSES
// (which would strip <script> for users without unfiltered_html).
remove_action( 'set_current_user', 'kses_init' );
remove_action( 'init', 'kses_init' );
kses_remove_filters();
wp_defer_term_counting( true );
wp_defer_comment_counting( true );

$cats = array();
foreach ( array( 'Nouvelles', 'Technik', '日本語', 'العربية', 'Ümlaut & Co' ) as $name ) {
	$cats[] = wp_insert_term( $name, 'category' )['term_id'];
}
$cats[] = wp_insert_term( 'Unterkategorie', 'category', array( 'parent' => $cats[1] ) )['term_id'];
$tags = array( 'étiquette', 'עברית', '🎉 party', 'Rust', 'privacy', '<b>bold tag</b>' );
for ( $i = 0; $i < 14; $i++ ) {
	$tags[] = "tag-$i";
}
foreach ( $tags as $t ) {
	wp_insert_term( $t, 'post_tag' );
}
// Terms no post uses: an export takes only the terms its posts use.
wp_insert_term( 'Nobody uses this tag', 'post_tag' );
wp_insert_term( 'Empty category', 'category' );

/* Local time (Europe/Berlin) -> [local, gmt]. Drafts and pending posts keep
 * a "floating" date (gmt all zeros), as WordPress's editor leaves them. */
function seed_dates( $ts, $status ) {
	$local = wp_date( 'Y-m-d H:i:s', $ts );
	return array( $local, in_array( $status, array( 'draft', 'pending' ), true ) ? '0000-00-00 00:00:00' : gmdate( 'Y-m-d H:i:s', $ts ) );
}

$kinds = array(
	array( 'Post %d: notes from the road', "<p>Plain paragraph number %d.</p>\n\n<p>Second paragraph, with a line\nbreak.</p>" ),
	array( 'Ünïcödé %d — 日本語 🎉', "<!-- wp:paragraph --><p>Ünïcödé %d — 日本語テキスト — e\u{0301} — zero\u{200B}width — ﬁ ligature — 𝄞</p><!-- /wp:paragraph -->" ),
	array( 'مقالة رقم %d — مرحبا بالعالم', '<p dir="rtl">هذه مقالة تجريبية رقم %d مع نص عربي، وأرقام ١٢٣ و 456.</p>' ),
	array( 'פוסט %d — שלום עולם', "<p dir=\"rtl\">זהו פוסט ניסיון מספר %d עם טקסט בעברית ו-English mixed \u{202B}embedded\u{202C}.</p>" ),
	array( 'Title %d <em>with</em> &amp; HTML', '<h2>Heading %d</h2><ul><li>one &amp; two</li><li>&lt;escaped&gt;</li></ul><table><tr><td>a</td><td>b</td></tr></table><p><a href="http://example.test/?a=1&amp;b=2">link</a> [gallery ids="1,2"]</p>' ),
	array( '<script>alert(%d)</script> hostile title', '<p>Before %d</p><script>alert(1);document.write("<b>x</b>")</script><p onclick="evil()">after</p><iframe src="http://example.test/"></iframe><a href="javascript:alert(1)">click</a><img src=x onerror=alert(1)>' ),
	array( '👩‍👩‍👧 family %d 🏳️‍🌈', '<p>Emoji %d: 😀😃😄 👍🏽 🇯🇵 🏳️‍🌈 👩‍💻 and a flag sequence.</p>' ),
	array( 'Blocks %d', "<!-- wp:heading --><h2>Block heading %d</h2><!-- /wp:heading -->\n<!-- wp:quote --><blockquote class=\"wp-block-quote\"><p>A quote.</p></blockquote><!-- /wp:quote -->\n<!-- wp:code --><pre class=\"wp-block-code\"><code>fn main() { println!(\"&lt;hi&gt;\"); }</code></pre><!-- /wp:code -->" ),
);
$cycle = array( 'publish', 'publish', 'draft', 'publish', 'publish', 'private', 'publish', 'pending', 'publish', 'publish',
	'future', 'publish', 'publish', 'draft', 'publish', 'private', 'publish', 'pending', 'publish', 'publish' );

/* Post specs of all three authors, inserted in date order so that ids grow
 * with dates as on a real blog. Some share a second with the one before:
 * date-ordered paging must not lose ties. */
$specs = array();
foreach ( array( 'author' => 1260, 'author2' => 90, 'admin' => 60 ) as $login => $n ) {
	$from = strtotime( $login === 'author2' ? '2017-01-01 00:00:00 UTC' : '2015-01-01 00:00:00 UTC' );
	$step = intdiv( strtotime( '2025-01-01 00:00:00 UTC' ) - $from, $n );
	$prev = $from;
	for ( $i = 0; $i < $n; $i++ ) {
		$status = $cycle[ $i % 20 ];
		$ts     = $i % 97 === 96 ? $prev : $from + $i * $step + mt_rand( 0, 86399 );
		$prev   = $ts;
		if ( $status === 'future' ) {
			$ts = strtotime( '2099-01-01 10:00:00 UTC' ) + $i * 86400 + mt_rand( 0, 3599 );
		}
		$specs[] = array( $login, $i, $status, $ts );
	}
}
usort( $specs, function ( $a, $b ) {
	return array( $a[3], $a[0], $a[1] ) <=> array( $b[3], $b[0], $b[1] );
} );

$posts     = array();   // id => [login, status, kind]
$big_post  = 0;
foreach ( $specs as list( $login, $i, $status, $ts ) ) {
	$kind = ( $i * 7 + strlen( $login ) ) % count( $kinds );
	list( $title, $body ) = $kinds[ $kind ];
	$content = sprintf( $body, $i );
	if ( $login === 'author' && $i === 600 ) {   // ≈ 300 KB: one record far larger than the rest
		$content = str_repeat( "<p>A long post paragraph with ünïcödé — 🎉 — and enough words to weigh something.</p>\n", 3400 );
	}
	list( $local, $gmt ) = seed_dates( $ts, $status );
	$post_tags = array();
	for ( $k = mt_rand( 0, 3 ); $k > 0; $k-- ) {
		$post_tags[] = seed_pick( $tags );
	}
	$id = wp_insert_post( array(
		'post_author' => $uid[ $login ], 'post_type' => 'post', 'post_status' => $status,
		'post_date' => $local, 'post_date_gmt' => $gmt, 'edit_date' => true,
		'post_title' => sprintf( $title, $i ), 'post_content' => $content,
		'post_excerpt' => $i % 10 === 3 ? "Excerpt $i — ünïcödé" : '',
		'post_category' => array_values( array_unique( array( seed_pick( $cats ), seed_pick( $cats ) ) ) ),
		'tags_input' => array_values( array_unique( $post_tags ) ),
		'comment_status' => 'open', 'ping_status' => 'closed',
	), true );
	if ( is_wp_error( $id ) ) {
		seed_fail( "post $login $i", $id );
	}
	$posts[ $id ] = array( $login, $status, $kind );
	if ( $login === 'author' && $i === 600 ) {
		$big_post = $id;
	}
}
seed_say( sprintf( 'posts: %d', count( $posts ) ) );

// Pages: authors cannot normally edit pages, but may own them (a role change).
$pages = array();
foreach ( array(
	array( 'author', 'publish', 'About Ada — Über mich', 0 ), array( 'author', 'publish', 'Projekte 🛠️', 0 ),
	array( 'author', 'publish', 'Sub-page: Keepsake', 1 ), array( 'author', 'publish', 'صفحة عربية', 0 ),
	array( 'author', 'publish', 'Contact <script>alert(1)</script>', 0 ), array( 'author', 'draft', 'Draft page', 0 ),
	array( 'author', 'draft', 'Entwurf 2', 0 ), array( 'author', 'private', 'Private notes 🔒', 0 ),
	array( 'author', 'private', 'דף פרטי', 0 ),
	array( 'admin', 'publish', 'Home', 0 ), array( 'admin', 'publish', 'Privacy', 0 ), array( 'admin', 'publish', 'Imprint', 0 ),
	array( 'admin', 'publish', 'Team', 9 ), array( 'admin', 'draft', 'Admin draft page', 0 ), array( 'admin', 'private', 'Admin private page', 0 ),
) as $n => list( $login, $status, $title, $parent ) ) {
	list( $local, $gmt ) = seed_dates( strtotime( '2016-02-01 12:00:00 UTC' ) + $n * 86400 * 30, $status );
	$id = wp_insert_post( array(
		'post_author' => $uid[ $login ], 'post_type' => 'page', 'post_status' => $status, 'menu_order' => $n,
		'post_parent' => $parent ? $pages[ $parent - 1 ] : 0, 'post_date' => $local, 'post_date_gmt' => $gmt, 'edit_date' => true,
		'post_title' => $title, 'post_content' => "<!-- wp:paragraph --><p>Page $n: $title</p><!-- /wp:paragraph -->",
	), true );
	if ( is_wp_error( $id ) ) {
		seed_fail( "page $n", $id );
	}
	$pages[] = $id;
}
seed_say( sprintf( 'pages: %d', count( $pages ) ) );

// Revisions: 40 of author's posts edited two to four times.
$editable = array_keys( array_filter( $posts, function ( $p ) {
	return $p[0] === 'author' && in_array( $p[1], array( 'publish', 'draft', 'private' ), true );
} ) );
$revised = array();
wp_set_current_user( $uid['author'] );   // a revision's author is whoever edited
for ( $n = 0; $n < 40; $n++ ) {
	$id = $editable[ ( $n * 31 + 5 ) % count( $editable ) ];
	if ( isset( $revised[ $id ] ) ) {
		continue;
	}
	$edits = mt_rand( 2, 4 );
	$p     = get_post( $id );
	for ( $e = 1; $e <= $edits; $e++ ) {
		$r = wp_update_post( array( 'ID' => $id, 'edit_date' => true,
			'post_title' => $p->post_title . ( $e === $edits ? ' (edited)' : '' ),
			'post_content' => $p->post_content . "\n<p>Edit $e — ändern 🔁</p>" ), true );
		if ( is_wp_error( $r ) ) {
			seed_fail( "revision of $id", $r );
		}
	}
	$revised[ $id ] = $edits;
}
wp_set_current_user( 0 );
// Updates stamp "now" on the post and its revisions; give them fixed times.
foreach ( array_keys( $revised ) as $id ) {
	$p    = get_post( $id );
	$base = strtotime( $p->post_date . ' UTC' );
	$revs = $wpdb->get_col( $wpdb->prepare( "SELECT ID FROM $wpdb->posts WHERE post_parent = %d AND post_type = 'revision' ORDER BY ID", $id ) );
	foreach ( $revs as $k => $rev ) {
		$t = gmdate( 'Y-m-d H:i:s', $base + ( $k + 1 ) * 86400 );
		$wpdb->update( $wpdb->posts, array( 'post_date' => $t, 'post_date_gmt' => $t, 'post_modified' => $t, 'post_modified_gmt' => $t ), array( 'ID' => $rev ) );
	}
	$t = gmdate( 'Y-m-d H:i:s', $base + count( $revs ) * 86400 );
	$wpdb->update( $wpdb->posts, array( 'post_modified' => $t, 'post_modified_gmt' => $t ), array( 'ID' => $id ) );
}
seed_say( sprintf( 'revisions: %d posts edited', count( $revised ) ) );

// ---------------------------------------------------------------------------
// Comments: on published posts of all three authors, half of them by author.

$published = array_keys( array_filter( $posts, function ( $p ) {
	return $p[1] === 'publish';
} ) );
$pool = array();
for ( $n = 0; $n < 70; $n++ ) {
	$pool[] = $published[ ( $n * 37 + 11 ) % count( $published ) ];
}
$guests = array(
	array( 'Guest Gäst', 'guest@example.test', 'http://guest.example.test' ),
	array( 'زائر', 'visitor@example.test', '' ),
	array( '<script>alert("name")</script>', 'evil@example.test', 'javascript:alert(1)' ),
	array( '匿名 🙈', '', '' ),
);
$texts = array(
	'Comment %d: thanks, a plain remark.',
	'Comment %d with <b>bold</b>, <a href="http://example.test">a link</a> and <script>alert(1)</script> & an ampersand.',
	'تعليق رقم %d — שלום — 日本語のコメント',
	'Comment %d 👍🏽🔥 — 🏳️‍🌈',
	"Comment %d, long:\n\nParagraph one.\n\nParagraph two with\nline breaks.",
);
function seed_add_comment( $post_id, $who, $j, $parent, $approved, $date_gmt ) {
	global $uid, $users, $guests, $texts;
	if ( is_string( $who ) ) {
		$u    = get_userdata( $uid[ $who ] );
		$data = array( 'user_id' => $u->ID, 'comment_author' => $u->display_name, 'comment_author_email' => $u->user_email, 'comment_author_url' => $u->user_url );
	} else {
		$data = array( 'user_id' => 0, 'comment_author' => $who[0], 'comment_author_email' => $who[1], 'comment_author_url' => $who[2] );
	}
	$local = get_date_from_gmt( $date_gmt );
	$id    = wp_insert_comment( $data + array(
		'comment_post_ID' => $post_id, 'comment_parent' => $parent, 'comment_approved' => $approved,
		'comment_content' => sprintf( $texts[ $j % count( $texts ) ], $j ), 'comment_date' => $local, 'comment_date_gmt' => $date_gmt,
		'comment_author_IP' => '127.0.0.1', 'comment_agent' => 'Mozilla/5.0 (Keepsake seed)', 'comment_type' => 'comment',
	) );
	if ( ! $id ) {
		seed_fail( "comment $j", $id );
	}
	return $id;
}
$on_post = array();   // post id => comment ids, for replies
for ( $j = 0; $j < 372; $j++ ) {
	$slot = $j % 10;
	$who  = $slot < 5 ? 'author' : ( $slot < 7 ? 'author2' : ( $slot === 7 ? 'admin' : seed_pick( $guests ) ) );
	$pid  = seed_pick( $pool );
	$parent = $j % 6 === 5 && ! empty( $on_post[ $pid ] ) ? seed_pick( $on_post[ $pid ] ) : 0;
	$approved = $j % 9 === 4 ? '0' : '1';
	if ( is_array( $who ) && $j % 37 === 8 ) {
		$approved = 'spam';
	}
	$date = gmdate( 'Y-m-d H:i:s', strtotime( get_post( $pid )->post_date_gmt . ' UTC' ) + 3600 + $j * 60 + mt_rand( 0, 59 ) );
	$on_post[ $pid ][] = seed_add_comment( $pid, $who, $j, $parent, $approved, $date );
}
seed_say( 'comments: 372' );

// A trashed post of author2 with comments by author: WordPress hides them
// (status post-trashed) until the post is restored.
$victim = array_keys( array_filter( $posts, function ( $p ) {
	return $p[0] === 'author2' && $p[1] === 'publish';
} ) )[3];
$when = strtotime( get_post( $victim )->post_date_gmt . ' UTC' );
seed_add_comment( $victim, 'author', 1000, 0, '1', gmdate( 'Y-m-d H:i:s', $when + 7200 ) );
seed_add_comment( $victim, 'author', 1001, 0, '1', gmdate( 'Y-m-d H:i:s', $when + 7300 ) );
seed_add_comment( $victim, $guests[0], 1002, 0, '1', gmdate( 'Y-m-d H:i:s', $when + 7400 ) );
$trash = array( $victim );
// And some of author's own posts in the trash.
$own = array_keys( array_filter( $posts, function ( $p ) {
	return $p[0] === 'author' && in_array( $p[1], array( 'publish', 'draft' ), true );
} ) );
for ( $n = 0; $n < 12; $n++ ) {
	$trash[] = $own[ ( $n * 101 + 50 ) % count( $own ) ];
}
$trashed_at = '2025-01-01 00:00:00';
foreach ( array_diff( array_unique( $trash ), array( $big_post ) ) as $id ) {
	$before = get_post( $id );
	$revs   = "SELECT ID FROM $wpdb->posts WHERE post_parent = %d AND post_type = 'revision'";
	$had    = $wpdb->get_col( $wpdb->prepare( $revs, $id ) );
	wp_set_current_user( $before->post_author );   // trashing saves a revision, by this user
	wp_trash_post( $id );
	// Trashing is an update: it stamps "now" (and a draft's date too); fixed times instead.
	update_post_meta( $id, '_wp_trash_meta_time', strtotime( "$trashed_at UTC" ) );
	$wpdb->update( $wpdb->posts, array( 'post_date' => $before->post_date, 'post_date_gmt' => $before->post_date_gmt,
		'post_modified' => $trashed_at, 'post_modified_gmt' => $trashed_at ), array( 'ID' => $id ) );
	foreach ( array_diff( $wpdb->get_col( $wpdb->prepare( $revs, $id ) ), $had ) as $rev ) {
		$wpdb->update( $wpdb->posts, array( 'post_date' => $trashed_at, 'post_date_gmt' => $trashed_at,
			'post_modified' => $trashed_at, 'post_modified_gmt' => $trashed_at ), array( 'ID' => $rev ) );
	}
	clean_post_cache( $id );
	$posts[ $id ][1] = 'trash';
}
wp_set_current_user( 0 );
seed_say( sprintf( 'trash: %d posts', count( array_unique( $trash ) ) ) );

// ---------------------------------------------------------------------------
// Media, made here with GD (no files in the repository), uploaded as their owners.

function seed_gd_image( $w, $h, $type, $label ) {
	$im = imagecreatetruecolor( $w, $h );
	imagefilledrectangle( $im, 0, 0, $w - 1, $h - 1, imagecolorallocate( $im, mt_rand( 0, 255 ), mt_rand( 0, 255 ), mt_rand( 0, 255 ) ) );
	for ( $k = 0; $k < 24; $k++ ) {
		$c = imagecolorallocate( $im, mt_rand( 0, 255 ), mt_rand( 0, 255 ), mt_rand( 0, 255 ) );
		imagefilledellipse( $im, mt_rand( 0, $w ), mt_rand( 0, $h ), mt_rand( 10, intdiv( $w, 2 ) ), mt_rand( 10, intdiv( $h, 2 ) ), $c );
	}
	imagestring( $im, 5, 10, 10, $label, imagecolorallocate( $im, 255, 255, 255 ) );
	ob_start();
	$type === 'png' ? imagepng( $im, null, 9 ) : imagejpeg( $im, null, 82 );
	return ob_get_clean();
}
// A tiny but valid PDF, byte offsets in its xref table included.
function seed_tiny_pdf() {
	$objs = array( '<< /Type /Catalog /Pages 2 0 R >>', '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
		'<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 144] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
		"<< /Length 44 >>\nstream\nBT /F1 18 Tf 20 70 Td (Keepsake seed) Tj ET\nendstream",
		'<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>' );
	$pdf  = "%PDF-1.4\n";
	$offs = array();
	foreach ( $objs as $n => $o ) {
		$offs[] = strlen( $pdf );
		$pdf   .= ( $n + 1 ) . " 0 obj\n$o\nendobj\n";
	}
	$xref = strlen( $pdf );
	$pdf .= "xref\n0 " . ( count( $objs ) + 1 ) . "\n0000000000 65535 f \n";
	foreach ( $offs as $o ) {
		$pdf .= sprintf( "%010d 00000 n \n", $o );
	}
	return $pdf . "trailer\n<< /Size " . ( count( $objs ) + 1 ) . " /Root 1 0 R >>\nstartxref\n$xref\n%%EOF\n";
}
$media = array();   // id => facts
function seed_upload( $login, $name, $bytes, $parent, $when, $extra = array() ) {
	global $uid, $media;
	wp_set_current_user( $uid[ $login ] );   // upload checks use the uploader's rights
	$tmp = wp_tempnam( 'seed' );
	file_put_contents( $tmp, $bytes );
	// The fixed time picks the uploads/YYYY/MM folder (default: today's).
	$file = array( 'name' => $name, 'tmp_name' => $tmp, 'size' => strlen( $bytes ), 'error' => 0 );
	$r    = wp_handle_sideload( $file, array( 'test_form' => false ), gmdate( 'Y/m', $when ) );
	if ( isset( $r['error'] ) ) {
		seed_fail( "upload $name", $r['error'] );
	}
	list( $local, $gmt ) = seed_dates( $when, 'inherit' );
	$id = wp_insert_attachment( array(
		'post_mime_type' => $r['type'], 'guid' => $r['url'], 'post_author' => $uid[ $login ],
		'post_title' => $extra['title'] ?? preg_replace( '/\.[^.]+$/', '', wp_basename( $r['file'] ) ),
		'post_content' => $extra['description'] ?? '', 'post_excerpt' => $extra['caption'] ?? '',
		'post_date' => $local, 'post_date_gmt' => $gmt,
	), $r['file'], $parent, true );
	if ( is_wp_error( $id ) ) {
		seed_fail( "attachment $name", $id );
	}
	$meta = wp_generate_attachment_metadata( $id, $r['file'] );
	wp_update_attachment_metadata( $id, $meta );
	// Files dated like their attachment, not by when the seed ran (Last-Modified).
	$names = array_merge( array( wp_basename( $r['file'] ), wp_basename( $meta['file'] ?? '' ), $meta['original_image'] ?? '' ), array_column( $meta['sizes'] ?? array(), 'file' ) );
	foreach ( array_filter( $names ) as $f ) {
		touch( dirname( $r['file'] ) . "/$f", $when );
	}
	if ( isset( $extra['alt'] ) ) {
		update_post_meta( $id, '_wp_attachment_image_alt', $extra['alt'] );
	}
	if ( ! empty( $extra['featured'] ) ) {
		set_post_thumbnail( $parent, $id );
	}
	$media[ $id ] = array( 'login' => $login, 'uploaded_as' => $name, 'parent' => $parent, 'role' => $extra['role'] ?? '' );
	return $id;
}
$pub_of = function ( $login ) use ( $posts ) {
	return array_values( array_keys( array_filter( $posts, function ( $p ) use ( $login ) {
		return $p[0] === $login && $p[1] === 'publish';
	} ) ) );
};
$ap  = $pub_of( 'author' );
$ap2 = $pub_of( 'author2' );
$adm = $pub_of( 'admin' );
stick_post( $ap[10] );
stick_post( $ap[500] );
stick_post( $adm[1] );
$at  = function ( $post_id ) {
	return strtotime( get_post( $post_id )->post_date_gmt . ' UTC' ) + 600;
};
$jan = strtotime( '2020-01-15 12:00:00 UTC' );
seed_upload( 'author', 'sunset-🌅.png', seed_gd_image( 640, 480, 'png', 'sunset' ), $ap[20], $at( $ap[20] ),
	array( 'featured' => true, 'alt' => 'A sunset — Sonnenuntergang 🌅', 'caption' => 'Caption with <em>HTML</em>' ) );
seed_upload( 'author', 'photo.jpg', seed_gd_image( 1200, 800, 'jpg', 'photo' ), $ap[40], $at( $ap[40] ), array( 'featured' => true, 'alt' => 'A photo' ) );
seed_upload( 'author', 'huge panorama.jpg', seed_gd_image( 3000, 1400, 'jpg', 'panorama' ), $ap[60], $at( $ap[60] ),
	array( 'role' => 'scaled', 'description' => 'Wider than 2560 px: WordPress keeps the original and serves a -scaled copy.' ) );
seed_upload( 'author', 'Ünïcödé 日本 عربي.jpg', seed_gd_image( 320, 240, 'jpg', 'unicode' ), 0, $jan, array( 'title' => 'Ünïcödé 日本 عربي' ) );
seed_upload( 'author', 'document.pdf', seed_tiny_pdf(), $ap[80], $at( $ap[80] ), array( 'role' => 'pdf', 'title' => 'A PDF — ein Dokument' ) );
seed_upload( 'author', '../../evil name <script>.txt', "hostile name\n", 0, $jan + 60, array( 'role' => 'hostile-name' ) );
seed_upload( 'author', "résumé \u{202E}txt.exe 📄.txt", "right-to-left override\n", 0, $jan + 120, array( 'role' => 'rtl-override-name' ) );
for ( $n = 0; $n < 12; $n++ ) {   // enough of author's media for more than one page at per_page=10
	seed_upload( 'author', sprintf( 'small-%02d.png', $n ), seed_gd_image( 96 + $n * 8, 64, 'png', "small $n" ),
		$n % 3 === 0 ? $ap[ 100 + $n ] : 0, $jan + 86400 * ( $n + 1 ) );
}
seed_upload( 'author2', 'نور.png', seed_gd_image( 400, 300, 'png', 'author2' ), $ap2[5], $at( $ap2[5] ), array( 'featured' => true ) );
seed_upload( 'author2', 'notes.txt', "author2's notes\n", 0, $jan + 3600 );
// The admin's image inside author's post: in the post, but not author's upload.
seed_upload( 'admin', 'banner.jpg', seed_gd_image( 900, 300, 'jpg', 'banner' ), $ap[20], $at( $ap[20] ) + 60, array( 'role' => 'admin-in-author-post' ) );
seed_upload( 'admin', 'logo.png', seed_gd_image( 256, 256, 'png', 'logo' ), $adm[2], $at( $adm[2] ), array( 'featured' => true ) );
wp_set_current_user( 0 );
seed_say( sprintf( 'media: %d', count( $media ) ) );

wp_defer_term_counting( false );
wp_defer_comment_counting( false );
foreach ( array_keys( $posts ) as $id ) {
	wp_update_comment_count_now( $id );
}
// Times WordPress took from the clock at install. Cron's recurring events are
// rescheduled by the first request anyway; only scheduled posts' events stay.
update_option( 'admin_email_lifespan', 4102444800 );
$cron = _get_cron_array();
foreach ( $cron as $ts => $hooks ) {
	$cron[ $ts ] = array_intersect_key( $hooks, array( 'publish_future_post' => 1 ) );
}
_set_cron_array( array_filter( $cron ) );

// ---------------------------------------------------------------------------
// Facts, counted from the database.

$login_of = array_flip( $uid );
// comment_approved as the REST API names it (1 and 0 would also make JSON arrays).
function seed_comment_status( $approved ) {
	return array( '1' => 'approved', '0' => 'hold' )[ $approved ] ?? $approved;
}
$facts = array(
	'schema' => 1,
	'site' => array(
		'title' => get_option( 'blogname' ), 'wordpress' => get_bloginfo( 'version' ), 'timezone' => get_option( 'timezone_string' ),
		'permalink_structure' => get_option( 'permalink_structure' ), 'seed_url' => home_url(),
		'note' => 'guid fields hold seed_url; every other URL follows the instance (wp.sh start prints it)',
	),
	'users' => array(),
);
foreach ( $users as $login => $u ) {
	$facts['users'][ $login ] = array(
		'id' => $u['id'], 'login' => $login, 'password' => $u['password'], 'email' => $u['email'], 'display_name' => $u['display_name'],
		'roles' => array_values( get_userdata( $u['id'] )->roles ), 'app_password_name' => 'seed',
		'app_password' => $u['app_password'], 'app_password_uuid' => $u['app_password_uuid'], 'app_id' => $u['app_id'],
	);
}
$facts['posts'] = array();   // login => post type => status => count
foreach ( $wpdb->get_results( "SELECT post_author, post_type, post_status, COUNT(*) AS n FROM $wpdb->posts GROUP BY post_author, post_type, post_status ORDER BY post_author, post_type, post_status" ) as $row ) {
	$facts['posts'][ $login_of[ $row->post_author ] ][ $row->post_type ][ $row->post_status ] = (int) $row->n;
}
$facts['comments'] = array();   // login or "anonymous" => status => count
foreach ( $wpdb->get_results( "SELECT user_id, comment_approved, COUNT(*) AS n FROM $wpdb->comments GROUP BY user_id, comment_approved ORDER BY user_id, comment_approved" ) as $row ) {
	$facts['comments'][ $row->user_id ? $login_of[ $row->user_id ] : 'anonymous' ][ seed_comment_status( $row->comment_approved ) ] = (int) $row->n;
}
$facts['comments_on_posts_of'] = array();   // post author => status => count
foreach ( $wpdb->get_results( "SELECT p.post_author, c.comment_approved, COUNT(*) AS n FROM $wpdb->comments c JOIN $wpdb->posts p ON p.ID = c.comment_post_ID GROUP BY p.post_author, c.comment_approved ORDER BY p.post_author, c.comment_approved" ) as $row ) {
	$facts['comments_on_posts_of'][ $login_of[ $row->post_author ] ][ seed_comment_status( $row->comment_approved ) ] = (int) $row->n;
}
$facts['comment_replies'] = (int) $wpdb->get_var( "SELECT COUNT(*) FROM $wpdb->comments WHERE comment_parent <> 0" );
$facts['revisions'] = array();   // login => posts with revisions, revisions
foreach ( $wpdb->get_results( "SELECT p.post_author, COUNT(DISTINCT p.ID) AS posts, COUNT(*) AS n FROM $wpdb->posts r JOIN $wpdb->posts p ON p.ID = r.post_parent WHERE r.post_type = 'revision' GROUP BY p.post_author ORDER BY p.post_author" ) as $row ) {
	$facts['revisions'][ $login_of[ $row->post_author ] ] = array( 'posts' => (int) $row->posts, 'revisions' => (int) $row->n );
}
$facts['trashed_post_ids'] = array_map( 'intval', $wpdb->get_col( "SELECT ID FROM $wpdb->posts WHERE post_status = 'trash' ORDER BY ID" ) );
$facts['big_post'] = array( 'id' => $big_post, 'content_bytes' => strlen( get_post( $big_post )->post_content ) );
$facts['sticky_post_ids'] = array_map( 'intval', get_option( 'sticky_posts' ) );
$facts['posts_sharing_a_date'] = (int) $wpdb->get_var( "SELECT COUNT(*) FROM $wpdb->posts p WHERE post_type = 'post' AND EXISTS (SELECT 1 FROM $wpdb->posts q WHERE q.post_type = 'post' AND q.ID <> p.ID AND q.post_date_gmt = p.post_date_gmt AND p.post_date_gmt <> '0000-00-00 00:00:00')" );
$facts['featured'] = array();   // post id => attachment id
foreach ( $wpdb->get_results( "SELECT post_id, meta_value FROM $wpdb->postmeta WHERE meta_key = '_thumbnail_id' ORDER BY post_id" ) as $row ) {
	$facts['featured'][ $row->post_id ] = (int) $row->meta_value;
}
$facts['media_ids'] = array();   // login => attachment ids
$facts['media'] = array();
foreach ( $media as $id => $m ) {
	$meta = wp_get_attachment_metadata( $id );
	$facts['media_ids'][ $m['login'] ][] = $id;
	$facts['media'][] = array(
		'id' => $id, 'author' => $m['login'], 'uploaded_as' => $m['uploaded_as'], 'role' => $m['role'],
		'file' => get_post_meta( $id, '_wp_attached_file', true ), 'mime' => get_post_mime_type( $id ),
		'bytes' => filesize( get_attached_file( $id ) ), 'parent' => $m['parent'],
		'original_image' => $meta['original_image'] ?? null,
		'sizes' => array_keys( $meta['sizes'] ?? array() ),
	);
}
$facts['categories'] = array();
foreach ( get_terms( array( 'taxonomy' => 'category', 'hide_empty' => false, 'orderby' => 'term_id' ) ) as $t ) {
	$facts['categories'][] = array( 'id' => $t->term_id, 'name' => $t->name, 'slug' => $t->slug, 'parent' => $t->parent );
}
$facts['tags'] = (int) wp_count_terms( array( 'taxonomy' => 'post_tag', 'hide_empty' => false ) );

$json = json_encode( $facts, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE );
if ( ! $json || ! file_put_contents( $out_file, $json . "\n" ) ) {
	seed_fail( "write $out_file", json_last_error_msg() );
}
seed_say( "wrote $out_file" );
