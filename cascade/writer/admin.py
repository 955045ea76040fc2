from cascade.lib.admin import register_rows
from cascade.writer.models import Content, Image, Task

register_rows(
    {
        Task: ["title", "site", "status", "target_words"],
        Content: ["title", "site", "status", "word_count", "is_offline_draft", "created_at"],
        Image: ["content", "kind", "status", "file"],
    }
)
