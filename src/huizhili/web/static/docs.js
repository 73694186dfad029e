// Swagger UI over the app's own OpenAPI document, with FastAPI's defaults.
// A file rather than an inline script, so the Content-Security-Policy needs no 'unsafe-inline'.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  // The default asks an outside validator service for a badge; the CSP would refuse it.
  validatorUrl: null,
});
