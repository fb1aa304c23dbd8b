using System.Text;
using System.Text.Json;

namespace Moderation.Streams.Contracts;

/// <summary>
/// Strict parser for <see cref="UploadEvent"/>: UTF-8 JSON object, size and depth limits, duplicate keys
/// rejected (at every level), field rules from DESIGN.md, unknown fields ignored. Every failure is a
/// <see cref="ModerationException"/> with code <c>invalid-event</c> (or <c>unsupported-media</c> for a
/// media type the service does not screen).
/// </summary>
public static class UploadEventParser
{
    private const int MaxIdLength = 128;

    public static UploadEvent Parse(ReadOnlySpan<byte> utf8, EventLimits? limits = null)
    {
        limits ??= EventLimits.Default;
        if (utf8.IsEmpty) throw Invalid("empty event");
        if (utf8.Length > limits.MaxEventBytes)
            throw Invalid($"event of {utf8.Length} bytes exceeds the limit of {limits.MaxEventBytes}");

        // Invalid UTF-8 anywhere (unknown fields included) makes the event invalid, not only where a field is read.
        if (!System.Text.Unicode.Utf8.IsValid(utf8)) throw Invalid("event is not valid UTF-8");

        try
        {
            var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = limits.MaxDepth, CommentHandling = JsonCommentHandling.Disallow });
            RejectDuplicateKeys(ref reader);
            using var document = JsonDocument.Parse(utf8.ToArray(), new JsonDocumentOptions { MaxDepth = limits.MaxDepth });
            return FromDocument(document.RootElement, limits);
        }
        catch (Exception e) when (IsHostileInputFailure(e))
        {
            // Whatever System.Text.Json or a decoder throws on hostile text is that event's fault, never an internal error.
            throw Invalid(e is JsonException ? $"malformed JSON: {e.Message}" : $"unreadable event: {e.Message}");
        }
    }

    /// <summary>The exceptions System.Text.Json and the decoders throw on input they cannot read: malformed JSON
    /// (<see cref="JsonException"/>), a string that is no UTF-16 text such as an escaped lone surrogate
    /// (<see cref="InvalidOperationException"/>), invalid UTF-8 or base64 (<see cref="ArgumentException"/> incl.
    /// <see cref="DecoderFallbackException"/>, <see cref="FormatException"/>), numbers out of range
    /// (<see cref="OverflowException"/>).</summary>
    private static bool IsHostileInputFailure(Exception e) =>
        e is JsonException or InvalidOperationException or ArgumentException or FormatException or OverflowException;

    private static UploadEvent FromDocument(JsonElement root, EventLimits limits)
    {
        if (root.ValueKind != JsonValueKind.Object) throw Invalid("event must be a JSON object");

        string contentId = RequiredString(root, "content_id");
        if (!IsValidId(contentId)) throw Invalid("content_id must be 1-128 characters of [A-Za-z0-9._:-]");
        string? uploaderId = OptionalString(root, "uploader_id");
        if (uploaderId is not null && !IsValidId(uploaderId))
            throw Invalid("uploader_id must be 1-128 characters of [A-Za-z0-9._:-]");

        string mediaType = RequiredString(root, "media_type");
        bool textItem = mediaType == MediaTypes.Text;
        var media = textItem ? NoMedia(root) : ParseMedia(root);
        // A lone surrogate (escaped as \uD800) is no text: reading it fails as hostile input, invalid-event. Control
        // characters are kept as they came: the text signals read through them and reasons quote offsets, not text.
        string? caption = OptionalString(root, "caption");
        if (caption is not null && Chars(caption) > limits.MaxCaptionChars)
            throw Invalid($"caption of {Chars(caption)} characters exceeds the limit of {limits.MaxCaptionChars}");
        // "text" belongs to text items; on other uploads it is an unknown field, ignored as the contract says.
        string? text = textItem ? OptionalString(root, "text") : null;
        if (textItem)
        {
            if (string.IsNullOrEmpty(text)) throw Invalid("text is required for media_type text (1 or more characters)");
            if (Chars(text) > limits.MaxTextChars) throw Invalid($"text of {Chars(text)} characters exceeds the limit of {limits.MaxTextChars}");
        }
        DateTimeOffset? createdAt = null;
        var createdText = OptionalString(root, "created_at");
        if (createdText is not null)
        {
            // ISO 8601 with an explicit offset (Z or ±hh:mm): a local time would mean a different instant on each host.
            if (!root.GetProperty("created_at").TryGetDateTimeOffset(out var parsed) || !HasExplicitOffset(createdText))
                throw Invalid("created_at must be an ISO-8601 timestamp with an offset (e.g. 2026-11-25T10:00:00Z)");
            createdAt = parsed;
        }

        if (mediaType is not (MediaTypes.Image or MediaTypes.Video or MediaTypes.Text))
            throw new ModerationException(ErrorCodes.UnsupportedMedia, $"media_type '{Truncate(mediaType)}' is not supported (image, video, text)");

        return new UploadEvent
        {
            ContentId = contentId,
            UploaderId = uploaderId,
            MediaType = mediaType,
            Media = media,
            Caption = caption,
            Text = text,
            CreatedAt = createdAt,
            // Additive field: events that carried an odd "surface" before it meant anything stay valid.
            Surface = root.TryGetProperty("surface", out var surface) && surface.ValueKind == JsonValueKind.String
                && surface.GetString() is { } s && IsValidId(s) ? s : null,
        };
    }

    private static bool HasExplicitOffset(string text)
    {
        int t = text.IndexOf('T');
        return t > 0 && (text.EndsWith('Z') || text.AsSpan(t).IndexOfAny('+', '-') > 0);
    }

    /// <summary>Best effort: the content_id of a broken event, for logs and DLQ keys; null when unreadable.</summary>
    public static string? TryReadContentId(ReadOnlySpan<byte> utf8)
    {
        try
        {
            var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = 8 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                bool match = reader.ValueTextEquals("content_id"u8);
                reader.Read();
                if (match && reader.TokenType == JsonTokenType.String)
                {
                    var id = reader.GetString();
                    return id is not null && IsValidId(id) ? id : null;
                }
                reader.Skip();
            }
        }
        catch (Exception e) when (IsHostileInputFailure(e))
        {
        }
        return null;
    }

    public static bool IsValidId(string value)
    {
        if (value.Length is 0 or > MaxIdLength) return false;
        foreach (char c in value)
        {
            bool ok = c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '.' or '_' or ':' or '-';
            if (!ok) return false;
        }
        return true;
    }

    /// <summary>Characters as the limits count them: Unicode scalar values (an emoji is one, not two UTF-16 units).</summary>
    private static int Chars(string text)
    {
        int n = 0;
        foreach (var _ in text.EnumerateRunes()) n++;
        return n;
    }

    /// <summary>A <c>text</c> item has no media: a <c>media</c> field (other than null) is invalid.</summary>
    private static MediaRef? NoMedia(JsonElement root) =>
        root.TryGetProperty("media", out var media) && media.ValueKind != JsonValueKind.Null
            ? throw Invalid("media must be absent for media_type text") : null;

    private static MediaRef ParseMedia(JsonElement root)
    {
        if (!root.TryGetProperty("media", out var media) || media.ValueKind != JsonValueKind.Object)
            throw Invalid("media must be an object with exactly one of url or data");
        bool hasUrl = media.TryGetProperty("url", out var url) && url.ValueKind != JsonValueKind.Null;
        bool hasData = media.TryGetProperty("data", out var data) && data.ValueKind != JsonValueKind.Null;
        if (hasUrl == hasData) throw Invalid("media must have exactly one of url or data");
        if (hasUrl)
        {
            if (url.ValueKind != JsonValueKind.String || url.GetString() is not { Length: > 0 } text)
                throw Invalid("media.url must be a non-empty string");
            if (text.Length > 8192) throw Invalid("media.url is longer than 8192 characters");
            return new MediaRef { Url = text };
        }
        if (data.ValueKind != JsonValueKind.String) throw Invalid("media.data must be a base64 string");
        try
        {
            var bytes = data.GetBytesFromBase64();
            if (bytes.Length == 0) throw Invalid("media.data is empty");
            return new MediaRef { Data = bytes };
        }
        catch (FormatException)
        {
            throw Invalid("media.data is not valid base64");
        }
    }

    private static string RequiredString(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            throw Invalid($"{name} is required");
        if (value.ValueKind != JsonValueKind.String) throw Invalid($"{name} must be a string");
        return value.GetString()!;
    }

    private static string? OptionalString(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.String) throw Invalid($"{name} must be a string");
        return value.GetString();
    }

    /// <summary>Walks the whole document once; any object with a repeated property name is invalid.</summary>
    private static void RejectDuplicateKeys(ref Utf8JsonReader reader)
    {
        var scopes = new Stack<HashSet<string>?>();
        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject:
                    scopes.Push(new HashSet<string>(StringComparer.Ordinal));
                    break;
                case JsonTokenType.StartArray:
                    scopes.Push(null);
                    break;
                case JsonTokenType.EndObject:
                case JsonTokenType.EndArray:
                    scopes.Pop();
                    break;
                case JsonTokenType.PropertyName:
                    var name = reader.GetString()!;
                    if (!scopes.Peek()!.Add(name)) throw Invalid($"duplicate key '{Truncate(name)}'");
                    break;
            }
        }
    }

    private static string Truncate(string s) => s.Length <= 64 ? s : s[..64] + "…";

    private static ModerationException Invalid(string message) => new(ErrorCodes.InvalidEvent, message);

    /// <summary>Serialises an event in the contract's wire format (used by producers and tests).</summary>
    public static byte[] Serialize(UploadEvent upload)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("content_id", upload.ContentId);
            if (upload.UploaderId is not null) w.WriteString("uploader_id", upload.UploaderId);
            w.WriteString("media_type", upload.MediaType);
            if (upload.Media is { } media)
            {
                w.WriteStartObject("media");
                if (media.Url is not null) w.WriteString("url", media.Url);
                if (media.Data is not null) w.WriteBase64String("data", media.Data);
                w.WriteEndObject();
            }
            if (upload.Caption is not null) w.WriteString("caption", upload.Caption);
            if (upload.Text is not null) w.WriteString("text", upload.Text);
            if (upload.CreatedAt is { } created) w.WriteString("created_at", created.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ"));
            w.WriteEndObject();
        }
        return buffer.ToArray();
    }

    public static string SerializeToString(UploadEvent upload) => Encoding.UTF8.GetString(Serialize(upload));
}
