"""The MCP endpoint of apps enabled as MCP servers: `/mcp/server/<server_code>/mcp` (Dify's path)."""
