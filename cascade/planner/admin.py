from cascade.lib.admin import register_rows
from cascade.planner.models import Cluster, ContentIdea, Keyword

register_rows(
    {
        Keyword: ["keyword", "site", "status", "cluster", "volume", "intent", "disabled"],
        Cluster: ["name", "site", "status", "keyword_count", "disabled"],
        ContentIdea: ["title", "site", "cluster", "structure", "status"],
    }
)
