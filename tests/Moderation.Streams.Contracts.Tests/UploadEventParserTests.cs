using System.Text;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Contracts.Tests;

public class UploadEventParserTests
{
    private static UploadEvent Parse(string json) => UploadEventParser.Parse(Encoding.UTF8.GetBytes(json));

    private static string CodeOf(string json) =>
        Assert.Throws<ModerationException>(() => Parse(json)).Code;

    [Fact]
    public void The_contract_example_parses_with_every_field()
    {
        var e = Parse("""{"content_id":"c-123","uploader_id":"u-9","media_type":"image","media":{"url":"https://cdn.example/abc.jpg"},"caption":"optional text","created_at":"2026-11-25T10:00:00Z"}""");
        Assert.Equal("c-123", e.ContentId);
        Assert.Equal("u-9", e.UploaderId);
        Assert.Equal("image", e.MediaType);
        Assert.Equal("https://cdn.example/abc.jpg", e.Media!.Url);
        Assert.Null(e.Media!.Data);
        Assert.Equal("optional text", e.Caption);
        Assert.Equal(new DateTimeOffset(2026, 11, 25, 10, 0, 0, TimeSpan.Zero), e.CreatedAt);
    }

    [Fact]
    public void Inline_data_is_base64_decoded_and_unknown_fields_are_ignored()
    {
        var e = Parse("""{"content_id":"a","media_type":"image","media":{"data":"AQID"},"future_field":{"x":[1,2]}}""");
        Assert.Equal(new byte[] { 1, 2, 3 }, e.Media!.Data);
    }

    [Fact]
    public void Serialize_round_trips()
    {
        var original = new UploadEvent { ContentId = "c:1.x_y-z", UploaderId = "u", MediaType = "image", Media = new MediaRef { Data = [9, 8, 7] }, Caption = "ü", CreatedAt = DateTimeOffset.UnixEpoch };
        var back = UploadEventParser.Parse(UploadEventParser.Serialize(original));
        Assert.Equal(original.ContentId, back.ContentId);
        Assert.Equal(original.Media!.Data, back.Media!.Data);
        Assert.Equal(original.Caption, back.Caption);
        Assert.Equal(original.CreatedAt, back.CreatedAt);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("not json", "malformed")]
    [InlineData("[1,2]", "object")]
    [InlineData("""{"content_id":"a","media_type":"image","media":{"url":"file:///a"}""", "malformed")]
    [InlineData("""{"media_type":"image","media":{"url":"file:///a"}}""", "content_id is required")]
    [InlineData("""{"content_id":"","media_type":"image","media":{"url":"file:///a"}}""", "content_id must be")]
    [InlineData("""{"content_id":"a b","media_type":"image","media":{"url":"file:///a"}}""", "content_id must be")]
    [InlineData("""{"content_id":"a/../b","media_type":"image","media":{"url":"file:///a"}}""", "content_id must be")]
    [InlineData("""{"content_id":7,"media_type":"image","media":{"url":"file:///a"}}""", "must be a string")]
    [InlineData("""{"content_id":"a","uploader_id":"ü","media_type":"image","media":{"url":"file:///a"}}""", "uploader_id")]
    [InlineData("""{"content_id":"a","media_type":"image"}""", "exactly one")]
    [InlineData("""{"content_id":"a","media_type":"image","media":{}}""", "exactly one")]
    [InlineData("""{"content_id":"a","media_type":"image","media":{"url":"file:///a","data":"AQID"}}""", "exactly one")]
    [InlineData("""{"content_id":"a","media_type":"image","media":{"data":"***"}}""", "base64")]
    [InlineData("""{"content_id":"a","media_type":"image","media":{"url":""}}""", "non-empty")]
    [InlineData("""{"content_id":"a","content_id":"b","media_type":"image","media":{"url":"file:///a"}}""", "duplicate key 'content_id'")]
    [InlineData("""{"content_id":"a","media_type":"image","media":{"url":"file:///a","url":"file:///b"}}""", "duplicate key 'url'")]
    [InlineData("""{"content_id":"a","media_type":"image","media":{"url":"file:///a"},"created_at":"yesterday"}""", "created_at")]
    public void Invalid_events_are_rejected_with_invalid_event_and_a_clear_reason(string json, string reason)
    {
        var e = Assert.Throws<ModerationException>(() => Parse(json));
        Assert.Equal(ErrorCodes.InvalidEvent, e.Code);
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void An_id_of_128_characters_is_valid_and_129_is_not()
    {
        static string WithId(string id) => "{\"content_id\":\"" + id + "\",\"media_type\":\"image\",\"media\":{\"url\":\"file:///a\"}}";
        Assert.Equal(new string('a', 128), Parse(WithId(new string('a', 128))).ContentId);
        Assert.Equal(ErrorCodes.InvalidEvent, CodeOf(WithId(new string('a', 129))));
    }

    [Fact]
    public void Unknown_media_types_are_unsupported_media()
    {
        Assert.Equal(ErrorCodes.UnsupportedMedia, CodeOf("""{"content_id":"a","media_type":"audio","media":{"url":"file:///a"}}"""));
    }

    [Fact]
    public void Nesting_deeper_than_the_limit_is_rejected()
    {
        var deep = string.Concat(Enumerable.Repeat("{\"x\":", 40)) + "1" + new string('}', 40);
        var json = """{"content_id":"a","media_type":"image","media":{"url":"file:///a"},"extra":""" + deep + "}";
        Assert.Equal(ErrorCodes.InvalidEvent, CodeOf(json));
    }

    [Fact]
    public void Events_over_the_size_limit_are_rejected_before_parsing()
    {
        var limits = new EventLimits { MaxEventBytes = 100 };
        var json = Encoding.UTF8.GetBytes("""{"content_id":"a","media_type":"image","media":{"data":"" """ + new string('A', 200) + "\"}}");
        var e = Assert.Throws<ModerationException>(() => UploadEventParser.Parse(json, limits));
        Assert.Equal(ErrorCodes.InvalidEvent, e.Code);
        Assert.Contains("exceeds the limit", e.Message);
    }

    [Fact]
    public void Content_id_of_a_broken_event_is_recovered_when_readable()
    {
        Assert.Equal("c-1", UploadEventParser.TryReadContentId("""{"x":[1,{"y":2}],"content_id":"c-1","media":"""u8));
        Assert.Null(UploadEventParser.TryReadContentId("garbage"u8));
        Assert.Null(UploadEventParser.TryReadContentId("""{"content_id":"bad id"}"""u8));
    }

    /// <summary>What follows the content_id's value (without its closing quote) in a valid event.</summary>
    private const string Tail = "\",\"media_type\":\"image\",\"media\":{\"url\":\"file:///a\"}}";

    [Fact]
    public void The_default_limits_are_16_MiB_and_16_levels_and_an_event_exactly_at_the_size_limit_is_accepted()
    {
        Assert.Equal((16 * 1024 * 1024, 16), (new EventLimits().MaxEventBytes, new EventLimits().MaxDepth));
        var json = Encoding.UTF8.GetBytes("""{"content_id":"c-1""" + Tail);
        Assert.Equal("c-1", UploadEventParser.Parse(json, new EventLimits { MaxEventBytes = json.Length }).ContentId);
        Assert.Contains("exceeds the limit", Assert.Throws<ModerationException>(() => UploadEventParser.Parse(json, new EventLimits { MaxEventBytes = json.Length - 1 })).Message);
    }

    [Theory]
    [InlineData("""{"content_id":"a","media_type":"image","media":"file:///a"}""", "media must be an object with exactly one of url or data")]
    [InlineData("""{"content_id":"a","media_type":"image","media":{"data":1}}""", "media.data must be a base64 string")]
    [InlineData("""{"content_id":"a","media_type":"image","media":{"data":""}}""", "media.data is empty")]
    [InlineData("""{"content_id":"a","media_type":"image","media":{"url":"file:///a"},"caption":1}""", "caption must be a string")]
    [InlineData("""{"content_id":"a","media_type":1,"media":{"url":"file:///a"}}""", "media_type must be a string")]
    public void Each_field_rule_has_its_own_message(string json, string message)
    {
        var e = Assert.Throws<ModerationException>(() => Parse(json));
        Assert.Equal((ErrorCodes.InvalidEvent, message), (e.Code, e.Message));
    }

    [Fact]
    public void A_url_of_8192_characters_is_accepted_and_8193_is_not()
    {
        static string WithUrl(int length) => """{"content_id":"a","media_type":"image","media":{"url":"file:///""" + new string('u', length - 8) + "\"}}";
        Assert.Equal(8192, Parse(WithUrl(8192)).Media!.Url!.Length);
        Assert.Equal("media.url is longer than 8192 characters", Assert.Throws<ModerationException>(() => Parse(WithUrl(8193))).Message);
    }

    [Fact]
    public void Invalid_utf8_and_unreadable_strings_say_so()
    {
        var bytes = Encoding.UTF8.GetBytes("""{"content_id":"a","media_type":"image","media":{"url":"file:///a"},"x":"??"}""");
        bytes[^3] = 0xC3; // a lead byte followed by '?' is not UTF-8
        Assert.Equal("event is not valid UTF-8", Assert.Throws<ModerationException>(() => UploadEventParser.Parse(bytes)).Message);

        var lone = Assert.Throws<ModerationException>(() => Parse("""{"content_id":"\ud800""" + Tail));
        Assert.StartsWith("unreadable event: ", lone.Message, StringComparison.Ordinal);
        Assert.StartsWith("malformed JSON: ", Assert.Throws<ModerationException>(() => Parse("{")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_long_duplicate_key_is_quoted_cut_to_64_characters()
    {
        var key = new string('k', 100);
        var e = Assert.Throws<ModerationException>(() => Parse("{\"" + key + "\":1,\"" + key + "\":2,\"content_id\":\"a" + Tail));
        Assert.Equal($"duplicate key '{new string('k', 64)}…'", e.Message);
    }

    [Fact]
    public void The_content_id_is_only_read_from_its_own_field_and_only_at_shallow_depth()
    {
        Assert.Equal("c-1", UploadEventParser.TryReadContentId("""{"a":"x","content_id":"c-1"}"""u8));
        Assert.Null(UploadEventParser.TryReadContentId("""{"a":"x"}"""u8));
        Assert.Null(UploadEventParser.TryReadContentId("""{"x":[[[[[[[[[1]]]]]]]]],"content_id":"c-1"}"""u8)); // deeper than 8
        Assert.Equal("c-1", UploadEventParser.TryReadContentId("""{"x":[[[[[[1]]]]]],"content_id":"c-1"}"""u8));
    }

    [Fact]
    public void Serialising_writes_the_uploader_only_when_there_is_one()
    {
        var upload = new UploadEvent { ContentId = "c-1", UploaderId = "u-9", MediaType = MediaTypes.Image, Media = new MediaRef { Url = "file:///a" } };
        Assert.Equal("""{"content_id":"c-1","uploader_id":"u-9","media_type":"image","media":{"url":"file:///a"}}""", UploadEventParser.SerializeToString(upload));
        Assert.Equal("""{"content_id":"c-1","media_type":"image","media":{"url":"file:///a"}}""", UploadEventParser.SerializeToString(upload with { UploaderId = null }));
    }

    [Theory]
    [InlineData("azAZ09._:-", true)]
    [InlineData("A", true)]
    [InlineData("Z", true)]
    [InlineData("a", true)]
    [InlineData("z", true)]
    [InlineData("0", true)]
    [InlineData("9", true)]
    [InlineData("@", false)] // the characters either side of each allowed range
    [InlineData("[", false)]
    [InlineData("`", false)]
    [InlineData("{", false)]
    [InlineData("/", false)]
    [InlineData(";", false)]
    [InlineData("a b", false)]
    [InlineData("", false)]
    public void Ids_are_made_of_letters_digits_and_four_punctuation_marks(string id, bool valid) =>
        Assert.Equal(valid, UploadEventParser.IsValidId(id));
}
