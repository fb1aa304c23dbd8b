using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Moderation.Streams.Contracts;
using Moderation.Streams.Media;

namespace Moderation.Streams.Review;

/// <summary>
/// Serves an item's media to a logged-in reviewer through the worker's safe reader (<see cref="MediaReader"/>: media root,
/// allowed hosts, public addresses only, size and time limits). Only formats a browser shows as an image or a video are
/// served, with the type the bytes were sniffed as (never the one the upload claimed), <c>nosniff</c> and a sandboxing
/// CSP: an upload can never run as a page of the console.
/// </summary>
public sealed class MediaService
{
    private readonly ReviewStore _store;
    private readonly UploadLookup _lookup;
    private readonly MediaReader _reader;
    private readonly ILogger _log;

    public MediaService(ReviewStore store, UploadLookup lookup, MediaReader reader, ILogger<MediaService> log)
    {
        _store = store;
        _lookup = lookup;
        _reader = reader;
        _log = log;
    }

    public static string? ContentType(MediaFormat format) => format switch
    {
        MediaFormat.Jpeg => "image/jpeg",
        MediaFormat.Png => "image/png",
        MediaFormat.Gif => "image/gif",
        MediaFormat.Webp => "image/webp",
        MediaFormat.Bmp => "image/bmp",
        MediaFormat.Mp4 => "video/mp4",
        MediaFormat.WebM => "video/webm",
        _ => null,
    };

    public async Task<IResult> ServeAsync(string contentId, HttpContext http, CancellationToken ct)
    {
        var item = await _store.GetItemAsync(contentId).ConfigureAwait(false);
        var decision = item?.Decision ?? (await _store.GetVerdictAsync(contentId).ConfigureAwait(false))?.Decision;
        if (decision is null) return ReviewApi.Error(404, "no such item");
        var upload = await _lookup.FindAsync(decision, ct).ConfigureAwait(false);
        if (upload?.Media is not { } media) return ReviewApi.Error(404, "the item has no media (a text item, or its upload record is gone)");
        byte[] bytes;
        try
        {
            bytes = await _reader.ReadAsync(media, ct).ConfigureAwait(false);
        }
        catch (ModerationException e)
        {
            _log.LogWarning("media of {ContentId} not served: {Code} {Message}", contentId, e.Code, e.Message);
            int status = e.Code switch
            {
                ErrorCodes.ForbiddenUrl => 403,
                ErrorCodes.MediaTooLarge => 413,
                _ => 502,
            };
            return ReviewApi.Error(status, $"{e.Code}: {SafeText.Escape(e.Message, 200)}");
        }
        var type = ContentType(MediaSniffer.Sniff(bytes));
        if (type is null) return ReviewApi.Error(415, "the media is not in a format the console shows (images: JPEG, PNG, GIF, WebP, BMP; videos: MP4, WebM)");
        http.Response.Headers.ContentSecurityPolicy = "sandbox; default-src 'none'";
        http.Response.Headers.ContentDisposition = "inline";
        return Results.Bytes(bytes, type, enableRangeProcessing: true);
    }
}
