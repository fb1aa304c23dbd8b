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
        Assert.Equal("https://cdn.example/abc.jpg", e.Media.Url);
        Assert.Null(e.Media.Data);
        Assert.Equal("optional text", e.Caption);
        Assert.Equal(new DateTimeOffset(2026, 11, 25, 10, 0, 0, TimeSpan.Zero), e.CreatedAt);
    }

    [Fact]
    public void Inline_data_is_base64_decoded_and_unknown_fields_are_ignored()
    {
        var e = Parse("""{"content_id":"a","media_type":"image","media":{"data":"AQID"},"future_field":{"x":[1,2]}}""");
        Assert.Equal(new byte[] { 1, 2, 3 }, e.Media.Data);
    }

    [Fact]
    public void Serialize_round_trips()
    {
        var original = new UploadEvent { ContentId = "c:1.x_y-z", UploaderId = "u", MediaType = "image", Media = new MediaRef { Data = [9, 8, 7] }, Caption = "ü", CreatedAt = DateTimeOffset.UnixEpoch };
        var back = UploadEventParser.Parse(UploadEventParser.Serialize(original));
        Assert.Equal(original.ContentId, back.ContentId);
        Assert.Equal(original.Media.Data, back.Media.Data);
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
}
