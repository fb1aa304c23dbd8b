namespace Moderation.Streams.Media.Video;

/// <summary>The containers screened, each read by exactly one ffmpeg demuxer chosen here from the magic bytes
/// (never by ffmpeg's own probing, which would also recognise playlists, concat scripts and image sequences).</summary>
public enum VideoContainer
{
    /// <summary>ISO base media (<c>ftyp</c>): MP4, MOV, 3GP, read by ffmpeg's <c>mov</c> demuxer.</summary>
    Mp4,

    /// <summary>EBML (<c>1A 45 DF A3</c>): WebM and Matroska, read by ffmpeg's <c>matroska</c> demuxer.</summary>
    WebM,
}
