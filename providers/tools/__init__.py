"""Tool providers: Dify's builtin providers in process, custom API tools from OpenAPI / Swagger documents,
the workflow engine's tool port backed by both, and the console's tool-provider endpoints.

    builtin/      the registry (`time`, `json_process`, `webscraper`, `maths`) and each provider's tools
    entities.py   ToolParameter / ToolSpec / provider dicts in Dify's console shapes, value casting
    openapi.py    OpenAPI 3 and Swagger 2 documents -> ApiToolBundle per operation
    api_tool.py   calling one operation (auth, parameter mapping, Dify's answers and errors)
    http.py       the guarded outbound client (private-network guard per redirect hop, size caps)
    mcp_client.py remote MCP servers through the `mcp` SDK (streamable HTTP / SSE, guarded httpx2 client)
    mcp_tools.py  MCP input schemas as ToolParameters, argument checks, answers as ToolMessages
    mcp_services.py  adding, changing and refreshing a workspace's MCP servers
    models.py     ApiToolProvider, MCPToolProvider (tenant-scoped, secrets encrypted)
    port.py       TenantToolPort: the engine's ToolPort for one workspace
    selectors.py, services.py, serializers.py, views.py, urls.py: the console API

`ApiToolProvider` belongs to the `providers` app; `providers/models.py` should import it
(`from providers.tools.models import ApiToolProvider  # noqa: F401`) so Django always registers it.
Workflow-as-tool and marketplace plugins are not available yet: their provider types fail with a message
naming the type.
"""
