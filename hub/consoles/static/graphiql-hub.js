// GridHub's GraphiQL: the hub's own assets, a header template, percent-encoded non-ASCII
// header values (DESIGN.md: a Chinese purpose travels as percent-encoded UTF-8), and in dev a
// token helper. The literal <token> in the header pane is replaced by the helper's token.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("hub-config").textContent);
  var token = null;
  var tokenSource = null;
  var tokenExpires = 0;

  var HEADERS = JSON.stringify(
    { "Authorization": "Bearer <token>", "X-Request-Purpose": "入户走访" }, null, 2);
  var QUERY = [
    "# 先用上方的令牌助手获取令牌，再在请求头中填写查询事由。",
    "# Get a token with the helper above; the purpose header is audited.",
    "{",
    "  me { subject clientId roles scopes grid { code name } }",
    "}",
    "",
  ].join("\n");

  function isAscii(text) { return /^[\x20-\x7e]*$/.test(text); }

  function encodeHeaders(headers) {
    var out = {};
    Object.keys(headers || {}).forEach(function (name) {
      var value = String(headers[name]);
      if (value.indexOf("<token>") >= 0 && token) { value = value.replace("<token>", token); }
      out[name] = isAscii(value) ? value : encodeURIComponent(value);
    });
    return out;
  }

  function expiryOf(jwt) {
    try {
      var part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part)).exp * 1000;
    } catch (e) { return Date.now() + config.ttl * 1000; }
  }

  function setToken(value, source, label) {
    token = value; tokenSource = source; tokenExpires = expiryOf(value);
    var status = document.getElementById("token-status");
    if (status) {
      var until = new Date(tokenExpires).toLocaleTimeString();
      status.textContent = "令牌已就绪 / token ready: " + label + " (→ " + until + ")";
    }
  }

  function showStatus(text) {
    var status = document.getElementById("token-status");
    if (status) { status.textContent = text; }
  }

  function sessionToken() {
    return fetch("/console/token", { credentials: "same-origin", redirect: "manual" })
      .then(function (response) {
        if (response.type === "opaqueredirect" || response.status !== 200) {
          showStatus("请先登录 / sign in first: ");
          var link = document.createElement("a");
          link.href = "/console/signin?next=" + encodeURIComponent("/console");
          link.textContent = "登录 / sign in";
          link.target = "_blank";
          document.getElementById("token-status").appendChild(link);
          return null;
        }
        return response.json().then(function (body) {
          setToken(body.access_token, "session", body.subject);
          return body.access_token;
        });
      });
  }

  function clientToken() {
    var id = document.getElementById("client-id").value.trim();
    var secret = document.getElementById("client-secret").value;
    return fetch("/oauth/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded",
                 "Authorization": "Basic " + btoa(id + ":" + secret) },
      body: "grant_type=client_credentials",
      credentials: "omit",
    }).then(function (response) { return response.json(); }).then(function (body) {
      if (!body.access_token) { showStatus("失败 / failed: " + (body.error_description || body.error)); return; }
      setToken(body.access_token, "client", id);
    });
  }

  function fetcher(params, options) {
    var renew = tokenSource === "session" && tokenExpires - Date.now() < 30000
      ? sessionToken() : Promise.resolve(token);
    return renew.then(function () {
      var headers = Object.assign(
        { "Content-Type": "application/json", "Accept": "application/json" },
        encodeHeaders(options && options.headers));
      return fetch("/graphql", {
        method: "POST", headers: headers, body: JSON.stringify(params), credentials: "omit",
      }).then(function (response) { return response.json(); });
    });
  }

  if (config.dev) {
    document.getElementById("use-session-token").addEventListener("click", sessionToken);
    document.getElementById("use-client-token").addEventListener("click", clientToken);
  }

  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(GraphiQL, {
    fetcher: fetcher,
    defaultQuery: QUERY,
    defaultHeaders: HEADERS,
    headers: HEADERS,
    shouldPersistHeaders: false,
    isHeadersEditorEnabled: true,
    defaultEditorToolsVisibility: "headers",
  }));
})();
