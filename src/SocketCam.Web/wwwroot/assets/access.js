// The page's access token (issue 16, docs/SECURITY.md). It arrives in the URL's fragment (#token=…), which a browser
// never sends to a server: not in the request line, not in a Referer. Older links may carry ?token=. The page keeps it in
// a SameSite=Strict cookie of this server (one per port: cookies are shared by all ports of a host), so its own
// WebSockets, images and API calls present it without any URL holding it, and links to the other pages pass it on in
// their fragment.
const COOKIE = 'socketcam_token_' + (location.port || (location.protocol === 'https:' ? '443' : '80'));

function fromCookie() {
  for (const part of document.cookie.split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === COOKIE) return decodeURIComponent(value.join('='));
  }
  return null;
}

export const token = new URLSearchParams(location.hash.slice(1)).get('token')
  ?? new URLSearchParams(location.search).get('token')
  ?? fromCookie();

if (token) {
  document.cookie = `${COOKIE}=${encodeURIComponent(token)}; path=/; SameSite=Strict${location.protocol === 'https:' ? '; Secure' : ''}`;
}

// A link to another page of this server, its token in the fragment.
export function pageLink(path) {
  return token ? `${path}#token=${encodeURIComponent(token)}` : path;
}
