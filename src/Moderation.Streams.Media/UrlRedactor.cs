namespace Moderation.Streams.Media;

/// <summary>
/// Makes a media URL safe to log or to put in a DLQ message: no user info (credentials), no query string or
/// fragment (signed-URL tokens), no control, format or separator characters (each becomes <c>?</c>), and at most <see cref="MaxLength"/> characters.
/// </summary>
public static class UrlRedactor
{
    public const int MaxLength = 200;

    public static string Redact(string? url)
    {
        if (string.IsNullOrEmpty(url)) return "<none>";
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri)) return "<not an absolute URL>";
        return Redact(uri);
    }

    public static string Redact(Uri uri)
    {
        if (!uri.IsAbsoluteUri) return "<not an absolute URL>";
        string text = uri.Scheme is "http" or "https" or "file"
            ? uri.Scheme + "://" + (uri.IsDefaultPort || uri.Port < 0 ? uri.Host : uri.Host + ":" + uri.Port) + uri.AbsolutePath
            : uri.Scheme + ":…";
        if (!string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.Fragment)) text += "?…";
        var clean = new System.Text.StringBuilder(Math.Min(text.Length, MaxLength + 1));
        for (int i = 0; i < text.Length; i++)
        {
            if (clean.Length >= MaxLength) { clean.Append('…'); break; }
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                clean.Append(c).Append(text[++i]);
            else
                clean.Append(Contracts.SafeText.IsUnsafe(c) ? '?' : c); // control, format (bidi, zero-width), separators, lone surrogates
        }
        return clean.ToString();
    }
}
