<?php
/* Router for `php -S 127.0.0.1:PORT -t DIR/wordpress router.php` (what Apache's
 * rewrite rules do for WordPress). DIR/wordpress is the instance's ABSPATH:
 * symlinks into Debian's tree, its own wp-config.php, and wp-content pointing
 * at the instance's uploads. wp.sh passes it in KEEPSAKE_WP_ABSPATH. */

// Before anything loads wp-load.php: otherwise ABSPATH becomes Debian's tree,
// whose wp-config.php reads /etc/wordpress instead of this instance's config.
define( 'ABSPATH', getenv( 'KEEPSAKE_WP_ABSPATH' ) );

$path = rawurldecode( parse_url( $_SERVER['REQUEST_URI'], PHP_URL_PATH ) ?? '/' );
if ( strpos( $path, "\0" ) !== false || preg_match( '#(^|/)\.\.(/|$)#', $path ) ) {
	http_response_code( 400 );
	return true;
}
$file = ABSPATH . ltrim( $path, '/' );

if ( is_dir( $file ) && is_file( rtrim( $file, '/' ) . '/index.php' ) ) {   // /wp-admin etc.
	if ( substr( $path, -1 ) !== '/' ) {
		header( 'Location: ' . $path . '/' );
		return true;
	}
	$path .= 'index.php';
	$file .= 'index.php';
}

if ( is_file( $file ) ) {
	if ( substr( $file, -4 ) !== '.php' ) {
		if ( strncmp( $path, '/wp-content/uploads/', 20 ) === 0 ) {
			keepsake_send_upload( $file );
			return true;
		}
		return false;   // CSS, JS, images of WordPress itself: the built-in server sends them
	}
	if ( strncmp( $path, '/wp-content/', 12 ) === 0 ) {   // never run PHP from uploads or themes
		http_response_code( 403 );
		return true;
	}
	$_SERVER['SCRIPT_NAME']     = $_SERVER['PHP_SELF'] = $path;
	$_SERVER['SCRIPT_FILENAME'] = $file;
	chdir( dirname( $file ) );
	require $file;
	return true;
}

// Pretty permalinks, /wp-json/..., and WordPress's own 404 for the rest.
$_SERVER['SCRIPT_NAME']     = $_SERVER['PHP_SELF'] = '/index.php';
$_SERVER['SCRIPT_FILENAME'] = ABSPATH . 'index.php';
chdir( ABSPATH );
require ABSPATH . 'index.php';
return true;

/* Uploads as Apache sends them: the built-in server has no Last-Modified, no
 * ETag and ignores Range, which a resumable download needs. One range only;
 * several (rare) get the whole file, which HTTP allows. */
function keepsake_send_upload( $file ) {
	$size  = filesize( $file );
	$mtime = filemtime( $file );
	$types = array( 'txt' => 'text/plain', 'pdf' => 'application/pdf', 'json' => 'application/json', 'svg' => 'image/svg+xml' );
	$ext   = strtolower( pathinfo( $file, PATHINFO_EXTENSION ) );
	header( 'Content-Type: ' . ( $types[ $ext ] ?? ( mime_content_type( $file ) ?: 'application/octet-stream' ) ) );
	header( 'Last-Modified: ' . gmdate( 'D, d M Y H:i:s', $mtime ) . ' GMT' );
	header( sprintf( 'ETag: "%x-%x"', $size, $mtime ) );
	header( 'Accept-Ranges: bytes' );
	$from = 0;
	$to   = $size - 1;
	if ( preg_match( '/^bytes=(\d*)-(\d*)$/', $_SERVER['HTTP_RANGE'] ?? '', $m ) && $m[1] . $m[2] !== '' ) {
		if ( $m[1] === '' ) {   // bytes=-N: the last N bytes
			$from = max( 0, $size - (int) $m[2] );
		} else {
			$from = (int) $m[1];
			$to   = $m[2] === '' ? $to : min( $to, (int) $m[2] );
		}
		if ( $from > $to ) {
			http_response_code( 416 );
			header( "Content-Range: bytes */$size" );
			return;
		}
		http_response_code( 206 );
		header( "Content-Range: bytes $from-$to/$size" );
	}
	header( 'Content-Length: ' . ( $to - $from + 1 ) );
	if ( $_SERVER['REQUEST_METHOD'] === 'HEAD' ) {
		return;
	}
	$fh = fopen( $file, 'rb' );
	fseek( $fh, $from );
	for ( $left = $to - $from + 1; $left > 0 && ! feof( $fh ); $left -= strlen( $chunk ) ) {
		echo $chunk = fread( $fh, min( 1 << 16, $left ) );
	}
	fclose( $fh );
}
