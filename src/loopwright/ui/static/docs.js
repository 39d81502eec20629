// Swagger UI for /docs, from vendored files: no CDN, no inline script (the CSP forbids both).
/* global SwaggerUIBundle */
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: false,
  layout: "BaseLayout",
  presets: [SwaggerUIBundle.presets.apis],
});
