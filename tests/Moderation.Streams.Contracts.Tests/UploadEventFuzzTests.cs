using System.Text;
using CsCheck;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Contracts.Tests;

/// <summary>
/// Property tests over the strict parser at a small budget: whatever the bytes, it returns an event that
/// satisfies DESIGN.md's field rules or throws a <see cref="ModerationException"/> with invalid-event or
/// unsupported-media. Nothing else escapes.
/// </summary>
public class UploadEventFuzzTests
{
    private static readonly string[] ParserCodes = [ErrorCodes.InvalidEvent, ErrorCodes.UnsupportedMedia];

    private static readonly byte[][] Seeds = Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "corpus"), "*.json")
        .Select(File.ReadAllBytes).Where(b => b.Length < 4096).ToArray();

    private static void ParsesByTheRulesOrRefusesWithAContractCode(byte[] bytes)
    {
        UploadEvent parsed;
        try
        {
            parsed = UploadEventParser.Parse(bytes);
        }
        catch (ModerationException e)
        {
            Assert.Contains(e.Code, ParserCodes);
            // Messages quote names and values from the event: they reach logs and DLQ headers, so they must be clean.
            Assert.True(SafeText.IsClean(e.Message), $"unclean message: {SafeText.Escape(e.Message)}");
            return;
        }
        Assert.True(UploadEventParser.IsValidId(parsed.ContentId));
        Assert.True(parsed.UploaderId is null || UploadEventParser.IsValidId(parsed.UploaderId));
        Assert.Contains(parsed.MediaType, new[] { MediaTypes.Image, MediaTypes.Video, MediaTypes.Text });
        Assert.True(parsed.MediaType == MediaTypes.Text
            ? parsed.Media is null && parsed.Text is { Length: > 0 }
            : parsed.Media!.Url is { Length: > 0 and <= 8192 } ^ parsed.Media.Data is { Length: > 0 });
        // TryReadContentId agrees with a successful parse whenever it finds an id.
        var recovered = UploadEventParser.TryReadContentId(bytes);
        Assert.True(recovered is null || recovered == parsed.ContentId);
    }

    [Fact]
    public void Random_bytes_are_refused_with_a_contract_code() =>
        Gen.Byte.Array[0, 400].Sample(ParsesByTheRulesOrRefusesWithAContractCode, iter: 20_000);

    [Fact]
    public void Mutated_corpus_events_parse_by_the_rules_or_are_refused_with_a_contract_code() =>
        Gen.Select(Gen.Int[0, Seeds.Length - 1], Gen.ULong).Sample((seed, mutation) =>
        {
            var random = new Random((int)mutation ^ (int)(mutation >> 32));
            var bytes = new List<byte>(Seeds[seed]);
            for (int m = 1 + random.Next(4); m > 0 && bytes.Count > 0; m--)
            {
                int at = random.Next(bytes.Count);
                switch (random.Next(5))
                {
                    case 0: bytes[at] = (byte)random.Next(256); break;
                    case 1: bytes[at] = "{}[]\",:\\0n-"u8[random.Next(11)]; break;
                    case 2: bytes.RemoveAt(at); break;
                    case 3: bytes.InsertRange(at, bytes.GetRange(at, Math.Min(bytes.Count - at, random.Next(1, 40)))); break;
                    default: bytes.RemoveRange(at, bytes.Count - at); break;
                }
            }
            ParsesByTheRulesOrRefusesWithAContractCode(bytes.ToArray());
        }, iter: 20_000);

    /// <summary>Known fields with values of every JSON type, in any order, with unknown fields mixed in.</summary>
    private static readonly Gen<string> AnyValue = Gen.OneOf(
        Gen.Const("null"), Gen.Const("true"), Gen.Const("[]"), Gen.Const("{}"), Gen.Int.Select(i => i.ToString()),
        Gen.Const("\"image\""), Gen.Const("\"video\""), Gen.Const("\"c-1\""), Gen.Const("\"\""), Gen.Const("\"2026-11-25T10:00:00Z\""),
        Gen.Const("{\"url\":\"file:///a\"}"), Gen.Const("{\"data\":\"AQID\"}"), Gen.Const("{\"url\":null,\"data\":\"AQID\"}"),
        Gen.Char["abc-_:. /\\"].Array[0, 20].Select(c => "\"" + new string(c) + "\""),
        Gen.String.Select(s => System.Text.Json.JsonSerializer.Serialize(s)));

    private static readonly string[] Keys = ["content_id", "uploader_id", "media_type", "media", "caption", "created_at", "url", "data", "x"];

    [Fact]
    public void Events_built_from_any_field_values_parse_by_the_rules_or_are_refused_with_a_contract_code() =>
        Gen.Select(Gen.Int[0, Keys.Length - 1], AnyValue).Array[0, 8]
            .Select(fields => "{" + string.Join(",", fields.Select(f => $"\"{Keys[f.Item1]}\":{f.Item2}")) + "}")
            .Sample(json => ParsesByTheRulesOrRefusesWithAContractCode(Encoding.UTF8.GetBytes(json)), iter: 20_000);

    /// <summary>Pieces of JSON string text that are hostile once unescaped: lone and paired surrogates (escaped, so the
    /// bytes stay valid UTF-8), NUL, ESC, CR/LF, NEL, LINE SEPARATOR (escaped and raw), bidi overrides, a BOM.</summary>
    private static readonly Gen<string> HostilePiece = Gen.OneOf(
        Gen.Const(@"\ud800"), Gen.Const(@"\udfff"), Gen.Const(@"\udc00\ud800"), Gen.Const(@"\ud83d\ude00"), Gen.Const(@"\uD800x"),
        Gen.Const(@"\u0000"), Gen.Const(@"\u001b[2J"), Gen.Const(@"\r\n"), Gen.Const(@"\n"), Gen.Const(@"\u0085"), Gen.Const("\u0085"),
        Gen.Const(@"\u2028"), Gen.Const("\u2028"), Gen.Const("\u2029"), Gen.Const(@"\u202e"), Gen.Const(@"\ufeff"),
        Gen.Const("content_id"), Gen.Const("image"), Gen.Const("c-1"), Gen.Const("file:///a"), Gen.Const("2026-11-25T10:00:00Z"));

    private static readonly Gen<string> HostileString = HostilePiece.Array[0, 4].Select(p => "\"" + string.Concat(p) + "\"");

    private static readonly Gen<string> HostileKey = Gen.OneOf(Gen.Int[0, Keys.Length - 1].Select(k => "\"" + Keys[k] + "\""), HostileString);

    private static readonly Gen<string> HostileValue = Gen.OneOf(AnyValue, HostileString,
        Gen.Select(HostileKey, HostileString).Array[0, 3].Select(f => "{" + string.Join(",", f.Select(p => p.Item1 + ":" + p.Item2)) + "}"),
        HostileString.Array[0, 3].Select(a => "[" + string.Join(",", a) + "]"));

    [Fact]
    public void Events_with_surrogates_and_control_characters_in_names_and_values_are_refused_with_a_contract_code() =>
        Gen.Select(HostileKey, HostileValue).Array[0, 8]
            .Select(fields => "{" + string.Join(",", fields.Select(f => f.Item1 + ":" + f.Item2)) + "}")
            .Sample(json => ParsesByTheRulesOrRefusesWithAContractCode(Encoding.UTF8.GetBytes(json)), iter: 20_000);

    [Theory]
    [InlineData(@"{""\ud800"":1,""content_id"":""c-1"",""media_type"":""image"",""media"":{""url"":""file:///a""}}")]
    [InlineData(@"{""content_id"":""c-1"",""media_type"":""image"",""media"":{""\udfff"":1,""url"":""file:///a""}}")]
    [InlineData(@"{""content_id"":""\ud800"",""media_type"":""image"",""media"":{""url"":""file:///a""}}")]
    [InlineData(@"{""content_id"":""c-1"",""media_type"":""\ud800"",""media"":{""url"":""file:///a""}}")]
    [InlineData(@"{""content_id"":""c-1"",""media_type"":""image"",""media"":{""url"":""file:///a\udc00""}}")]
    [InlineData(@"{""content_id"":""c-1"",""media_type"":""image"",""media"":{""url"":""file:///a""},""created_at"":""\ud800""}")]
    [InlineData(@"{""content_id"":""c-1"",""media_type"":""image"",""media"":{""url"":""file:///a""},""x"":{""\ud800"":1,""\ud800"":2}}")]
    public void A_lone_surrogate_anywhere_is_an_invalid_event_not_an_internal_error(string json)
    {
        var e = Assert.Throws<ModerationException>(() => UploadEventParser.Parse(Encoding.UTF8.GetBytes(json)));
        Assert.Equal(ErrorCodes.InvalidEvent, e.Code);
        Assert.True(SafeText.IsClean(e.Message), e.Message);
        var id = UploadEventParser.TryReadContentId(Encoding.UTF8.GetBytes(json)); // must not throw either
        Assert.True(id is null || UploadEventParser.IsValidId(id));
    }

    [Fact]
    public void Messages_quoting_event_text_escape_control_characters()
    {
        var e = Assert.Throws<ModerationException>(() => UploadEventParser.Parse(
            Encoding.UTF8.GetBytes("{\"content_id\":\"c-1\",\"media_type\":\"im\\r\\nERROR forged\\u001b[2J\\u2028\",\"media\":{\"url\":\"file:///a\"}}")));
        Assert.Equal(ErrorCodes.UnsupportedMedia, e.Code);
        Assert.Equal(@"media_type 'im\u000D\u000AERROR forged\u001B[2J\u2028' is not supported (image, video, text)", e.Message);
    }

    [Fact]
    public void Reading_the_content_id_of_any_broken_event_never_throws() =>
        Gen.Select(HostileKey, HostileValue).Array[0, 8]
            .Select(fields => "{" + string.Join(",", fields.Select(f => f.Item1 + ":" + f.Item2)) + "}")
            .Sample(json => _ = UploadEventParser.TryReadContentId(Encoding.UTF8.GetBytes(json)), iter: 5_000);

    private static readonly Gen<string> Id = Gen.Char["abcXYZ019._:-"].Array[1, 128].Select(c => new string(c));

    [Fact]
    public void Valid_events_survive_a_serialise_parse_round_trip() =>
        Gen.Select(Id, Gen.Bool, Gen.String, Gen.Byte.Array[1, 64], Gen.Bool).Sample((id, inline, caption, data, video) =>
        {
            var upload = new UploadEvent
            {
                ContentId = id,
                MediaType = video ? MediaTypes.Video : MediaTypes.Image,
                Media = inline ? new MediaRef { Data = data } : new MediaRef { Url = "https://cdn.example/" + Convert.ToHexString(data) },
                Caption = caption,
            };
            var back = UploadEventParser.Parse(UploadEventParser.Serialize(upload));
            Assert.Equal((upload.ContentId, upload.MediaType, upload.Media?.Url, upload.Caption, upload.Text), (back.ContentId, back.MediaType, back.Media?.Url, back.Caption, back.Text));
            Assert.Equal(upload.Media?.Data, back.Media?.Data);
        }, iter: 5_000);
}
