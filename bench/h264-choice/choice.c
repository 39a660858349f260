/* choice.c: measure the H.264 libraries SocketCam can choose from, on the same source and the same bitrates.
 *
 *   choice enc x264   W H KBPS THREADS        SRC.yuv OUT.264   (THREADS 0 = x264's default, auto)
 *   choice enc oh264  W H KBPS COMPLEXITY TL  SRC.yuv OUT.264   (COMPLEXITY 0 low, 1 medium; TL temporal layers)
 *   choice dec avc    W H IN.264 SKIP                          (libavcodec; SKIP = access unit to drop, -1 none)
 *   choice dec oh264  W H IN.264 SKIP                          (OpenH264's ISVCDecoder)
 *
 * The encoders write the Annex B stream to OUT.264 and the size of each access unit (one per frame) to OUT.264.au,
 * so the decoders get exact access units without a parser. Each command prints one line of key=value pairs.
 * CPU time is CLOCK_PROCESS_CPUTIME_ID around the library call (it counts the library's own threads too; with one
 * thread it is the same as CLOCK_THREAD_CPUTIME_ID), wall is CLOCK_MONOTONIC. Reading the source is not timed.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* x264.h and OpenH264's codec_def.h both declare enumerators NAL_SLICE etc.; x264's are renamed (unused here). */
#define NAL_UNKNOWN X264_NAL_UNKNOWN
#define NAL_SLICE X264_NAL_SLICE
#define NAL_SLICE_DPA X264_NAL_SLICE_DPA
#define NAL_SLICE_DPB X264_NAL_SLICE_DPB
#define NAL_SLICE_DPC X264_NAL_SLICE_DPC
#define NAL_SLICE_IDR X264_NAL_SLICE_IDR
#define NAL_SEI X264_NAL_SEI
#define NAL_SPS X264_NAL_SPS
#define NAL_PPS X264_NAL_PPS
#define NAL_AUD X264_NAL_AUD
#define NAL_FILLER X264_NAL_FILLER
#define NAL_PRIORITY_DISPOSABLE X264_NAL_PRIORITY_DISPOSABLE
#define NAL_PRIORITY_LOW X264_NAL_PRIORITY_LOW
#define NAL_PRIORITY_HIGH X264_NAL_PRIORITY_HIGH
#define NAL_PRIORITY_HIGHEST X264_NAL_PRIORITY_HIGHEST
#include <x264.h>
#undef NAL_UNKNOWN
#undef NAL_SLICE
#undef NAL_SLICE_DPA
#undef NAL_SLICE_DPB
#undef NAL_SLICE_DPC
#undef NAL_SLICE_IDR
#undef NAL_SEI
#undef NAL_SPS
#undef NAL_PPS
#undef NAL_AUD
#undef NAL_FILLER
#undef NAL_PRIORITY_DISPOSABLE
#undef NAL_PRIORITY_LOW
#undef NAL_PRIORITY_HIGH
#undef NAL_PRIORITY_HIGHEST
#include <wels/codec_api.h>
#include <libavcodec/avcodec.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>

static double now(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void die(const char *what)
{
    fprintf(stderr, "choice: %s\n", what);
    exit(1);
}

typedef struct {
    double cpu, wall, cpu0, wall0;
} Timer;

static void t_start(Timer *t)
{
    t->cpu0 = now(CLOCK_PROCESS_CPUTIME_ID);
    t->wall0 = now(CLOCK_MONOTONIC);
}

static void t_stop(Timer *t)
{
    t->cpu += now(CLOCK_PROCESS_CPUTIME_ID) - t->cpu0;
    t->wall += now(CLOCK_MONOTONIC) - t->wall0;
}

/* ---------------------------------------------------------------- encoders */

typedef struct {
    FILE *out, *au;
    long bytes, frames_in, frames_out, max_delay, idr;
    Timer t;
} EncRun;

static void put_au(EncRun *r, const uint8_t *p, int size, int idr)
{
    if (size <= 0)
        return;
    fwrite(p, 1, size, r->out);
    fprintf(r->au, "%d %d\n", size, idr);
    r->bytes += size;
    r->frames_out++;
    r->idr += idr;
}

static void note_delay(EncRun *r)
{
    long d = r->frames_in - r->frames_out;
    if (d > r->max_delay)
        r->max_delay = d;
}

static void x264_set(x264_param_t *p, const char *name, const char *value)
{
    if (x264_param_parse(p, name, value) < 0) {
        fprintf(stderr, "x264 refused %s=%s\n", name, value);
        exit(1);
    }
}

static void enc_x264(int w, int h, int kbps, int threads, FILE *src, EncRun *r)
{
    char v[32];
    x264_param_t p;
    if (x264_param_default_preset(&p, "veryfast", "zerolatency") < 0)
        die("x264 preset");
    p.i_width = w;
    p.i_height = h;
    p.i_csp = X264_CSP_I420;
    x264_set(&p, "fps", "30");
    x264_set(&p, "keyint", "60");
    x264_set(&p, "min-keyint", "60");
    x264_set(&p, "scenecut", "0");
    x264_set(&p, "bframes", "0");
    snprintf(v, sizeof v, "%d", kbps);
    x264_set(&p, "bitrate", v);
    x264_set(&p, "vbv-maxrate", v);
    snprintf(v, sizeof v, "%d", (int)(kbps / 30.0 * 2) > 0 ? (int)(kbps / 30.0 * 2) : 1); /* 2 frames */
    x264_set(&p, "vbv-bufsize", v);
    x264_set(&p, "repeat-headers", "1");
    x264_set(&p, "annexb", "1");
    /* The project flags full range; here both encoders say limited so ffmpeg's SSIM treats both streams alike.
     * The flag only changes the VUI, not the coded pixels. */
    x264_set(&p, "fullrange", "off");
    x264_set(&p, "colormatrix", "bt470bg");
    snprintf(v, sizeof v, "%d", threads);
    x264_set(&p, "threads", v);
    x264_set(&p, "sliced-threads", "1");
    x264_set(&p, "log", "-1");
    if (x264_param_apply_profile(&p, "baseline") < 0)
        die("x264 baseline");
    x264_t *enc = x264_encoder_open(&p);
    if (!enc)
        die("x264_encoder_open");

    size_t ysize = (size_t)w * h, frame = ysize * 3 / 2;
    uint8_t *buf = malloc(frame);
    x264_picture_t in, out;
    x264_picture_init(&in);
    in.img.i_csp = X264_CSP_I420;
    in.img.i_plane = 3;
    in.img.plane[0] = buf;
    in.img.plane[1] = buf + ysize;
    in.img.plane[2] = buf + ysize + ysize / 4;
    in.img.i_stride[0] = w;
    in.img.i_stride[1] = in.img.i_stride[2] = w / 2;
    x264_nal_t *nals;
    int nnal;
    while (fread(buf, 1, frame, src) == frame) {
        in.i_pts = r->frames_in++;
        t_start(&r->t);
        int size = x264_encoder_encode(enc, &nals, &nnal, &in, &out);
        t_stop(&r->t);
        if (size < 0)
            die("x264_encoder_encode");
        if (size > 0)
            put_au(r, nals[0].p_payload, size, out.b_keyframe);
        note_delay(r);
    }
    while (x264_encoder_delayed_frames(enc) > 0) {
        t_start(&r->t);
        int size = x264_encoder_encode(enc, &nals, &nnal, NULL, &out);
        t_stop(&r->t);
        if (size > 0)
            put_au(r, nals[0].p_payload, size, out.b_keyframe);
    }
    x264_encoder_close(enc);
    free(buf);
}

static void enc_oh264(int w, int h, int kbps, int complexity, int tl, FILE *src, EncRun *r)
{
    ISVCEncoder *enc;
    if (WelsCreateSVCEncoder(&enc) != 0)
        die("WelsCreateSVCEncoder");
    int quiet = WELS_LOG_QUIET;
    (*enc)->SetOption(enc, ENCODER_OPTION_TRACE_LEVEL, &quiet);
    SEncParamExt p;
    (*enc)->GetDefaultParams(enc, &p);
    p.iUsageType = CAMERA_VIDEO_REAL_TIME;
    p.iPicWidth = w;
    p.iPicHeight = h;
    p.iTargetBitrate = kbps * 1000;
    p.iMaxBitrate = kbps * 1000; /* as x264's vbv-maxrate */
    p.iRCMode = RC_BITRATE_MODE;
    p.fMaxFrameRate = 30;
    p.iTemporalLayerNum = tl;
    p.iSpatialLayerNum = 1;
    p.iComplexityMode = complexity ? MEDIUM_COMPLEXITY : LOW_COMPLEXITY;
    p.uiIntraPeriod = 60;
    p.iMultipleThreadIdc = 1;
    p.iEntropyCodingModeFlag = 0; /* CAVLC, as baseline */
    p.bEnableFrameSkip = 0;       /* every frame out, so the SSIM compares frame n with frame n */
    p.bEnableDenoise = 0;
    p.sSpatialLayers[0].iVideoWidth = w;
    p.sSpatialLayers[0].iVideoHeight = h;
    p.sSpatialLayers[0].fFrameRate = 30;
    p.sSpatialLayers[0].iSpatialBitrate = kbps * 1000;
    p.sSpatialLayers[0].iMaxSpatialBitrate = kbps * 1000;
    p.sSpatialLayers[0].uiProfileIdc = PRO_BASELINE;
    p.sSpatialLayers[0].sSliceArgument.uiSliceMode = SM_SINGLE_SLICE;
    if ((*enc)->InitializeExt(enc, &p) != 0)
        die("OpenH264 InitializeExt");
    int fmt = videoFormatI420;
    (*enc)->SetOption(enc, ENCODER_OPTION_DATAFORMAT, &fmt);

    size_t ysize = (size_t)w * h, frame = ysize * 3 / 2;
    uint8_t *buf = malloc(frame), *au = malloc(frame * 2);
    SSourcePicture pic;
    memset(&pic, 0, sizeof pic);
    pic.iColorFormat = videoFormatI420;
    pic.iPicWidth = w;
    pic.iPicHeight = h;
    pic.iStride[0] = w;
    pic.iStride[1] = pic.iStride[2] = w / 2;
    pic.pData[0] = buf;
    pic.pData[1] = buf + ysize;
    pic.pData[2] = buf + ysize + ysize / 4;
    SFrameBSInfo info;
    while (fread(buf, 1, frame, src) == frame) {
        pic.uiTimeStamp = r->frames_in * 1000 / 30;
        r->frames_in++;
        memset(&info, 0, sizeof info);
        t_start(&r->t);
        int rc = (*enc)->EncodeFrame(enc, &pic, &info);
        t_stop(&r->t);
        if (rc != cmResultSuccess)
            die("OpenH264 EncodeFrame");
        if (info.eFrameType == videoFrameTypeSkip || info.eFrameType == videoFrameTypeInvalid) {
            note_delay(r);
            continue;
        }
        int size = 0;
        for (int l = 0; l < info.iLayerNum; l++) {
            SLayerBSInfo *li = &info.sLayerInfo[l];
            int n = 0;
            for (int i = 0; i < li->iNalCount; i++)
                n += li->pNalLengthInByte[i];
            memcpy(au + size, li->pBsBuf, n);
            size += n;
        }
        put_au(r, au, size, info.eFrameType == videoFrameTypeIDR);
        note_delay(r);
    }
    (*enc)->Uninitialize(enc);
    WelsDestroySVCEncoder(enc);
    free(buf);
    free(au);
}

static int cmd_enc(int argc, char **argv)
{
    if (argc < 8)
        die("usage: enc x264 W H KBPS THREADS SRC OUT | enc oh264 W H KBPS COMPLEXITY TL SRC OUT");
    int oh = !strcmp(argv[2], "oh264");
    int w = atoi(argv[3]), h = atoi(argv[4]), kbps = atoi(argv[5]);
    const char *srcname = argv[oh ? 8 : 7], *outname = argv[oh ? 9 : 8];
    FILE *src = fopen(srcname, "rb");
    if (!src)
        die("cannot open the source");
    char auname[4096];
    snprintf(auname, sizeof auname, "%s.au", outname);
    EncRun r;
    memset(&r, 0, sizeof r);
    r.out = fopen(outname, "wb");
    r.au = fopen(auname, "w");
    if (!r.out || !r.au)
        die("cannot write the output");
    if (oh)
        enc_oh264(w, h, kbps, atoi(argv[6]), atoi(argv[7]), src, &r);
    else
        enc_x264(w, h, kbps, atoi(argv[6]), src, &r);
    fclose(r.out);
    fclose(r.au);
    fclose(src);
    printf("frames_in=%ld frames_out=%ld idr=%ld kbps=%.0f cpu_ms=%.3f wall_ms=%.3f delay_frames=%ld\n",
           r.frames_in, r.frames_out, r.idr, r.bytes * 8.0 / (r.frames_out / 30.0) / 1000.0,
           r.t.cpu / r.frames_in, r.t.wall / r.frames_in, r.max_delay);
    return 0;
}

/* ---------------------------------------------------------------- decoders */

static int av_errors, av_warnings, av_gap_logs;
static char av_first[256];

static void av_log_cb(void *avcl, int level, const char *fmt, va_list vl)
{
    (void)avcl;
    char line[512];
    vsnprintf(line, sizeof line, fmt, vl);
    if (strstr(line, "gap"))
        av_gap_logs++;
    if (level <= AV_LOG_WARNING) {
        if (level <= AV_LOG_ERROR)
            av_errors++;
        else
            av_warnings++;
        if (!av_first[0]) {
            snprintf(av_first, sizeof av_first, "%s", line);
            for (char *c = av_first; *c; c++)
                if (*c == '\n' || *c == ' ')
                    *c = *c == ' ' ? '_' : 0;
        }
    }
}

typedef struct {
    long aus_in, frames_out, max_delay, call_errors, flagged_frames;
    Timer t;
} DecRun;

static void dec_avc(uint8_t **aus, int *sizes, int n, int skip, DecRun *r)
{
    /* The callback prints nothing; debug level (to see "Frame num gap") only in the skip run, so the timed runs
     * do not format debug messages. */
    av_log_set_level(skip >= 0 ? AV_LOG_DEBUG : AV_LOG_WARNING);
    av_log_set_callback(av_log_cb);
    const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_H264);
    AVCodecContext *c = avcodec_alloc_context3(codec);
    av_opt_set(c, "threads", "2", 0);
    av_opt_set(c, "thread_type", "slice", 0);
    av_opt_set(c, "flags", "low_delay", 0);
    if (avcodec_open2(c, codec, NULL) < 0)
        die("avcodec_open2");
    AVPacket *pkt = av_packet_alloc();
    AVFrame *f = av_frame_alloc();
    for (int i = 0; i <= n; i++) {
        if (i == skip)
            continue;
        int rc;
        t_start(&r->t);
        if (i < n) {
            pkt->data = aus[i];
            pkt->size = sizes[i];
            rc = avcodec_send_packet(c, pkt);
            r->aus_in++;
        } else {
            rc = avcodec_send_packet(c, NULL);
        }
        if (rc < 0)
            r->call_errors++;
        while ((rc = avcodec_receive_frame(c, f)) == 0) {
            r->frames_out++;
            if (f->decode_error_flags || (f->flags & AV_FRAME_FLAG_CORRUPT))
                r->flagged_frames++;
            av_frame_unref(f);
        }
        t_stop(&r->t);
        if (rc != AVERROR(EAGAIN) && rc != AVERROR_EOF)
            r->call_errors++;
        if (i < n && r->aus_in - r->frames_out > r->max_delay)
            r->max_delay = r->aus_in - r->frames_out;
    }
    av_frame_free(&f);
    av_packet_free(&pkt);
    avcodec_free_context(&c);
}

static void dec_oh264(uint8_t **aus, int *sizes, int n, int skip, DecRun *r, int *states)
{
    ISVCDecoder *dec;
    if (WelsCreateDecoder(&dec) != 0)
        die("WelsCreateDecoder");
    int quiet = WELS_LOG_QUIET;
    (*dec)->SetOption(dec, DECODER_OPTION_TRACE_LEVEL, &quiet);
    SDecodingParam p;
    memset(&p, 0, sizeof p);
    p.sVideoProperty.size = sizeof p.sVideoProperty;
    p.sVideoProperty.eVideoBsType = VIDEO_BITSTREAM_AVC;
    p.uiTargetDqLayer = 0xff;
    p.eEcActiveIdc = ERROR_CON_SLICE_MV_COPY_CROSS_IDR_FREEZE_RES_CHANGE; /* the library's default */
    if ((*dec)->Initialize(dec, &p) != 0)
        die("OpenH264 decoder Initialize");
    uint8_t *dst[3];
    SBufferInfo info;
    for (int i = 0; i < n; i++) {
        if (i == skip)
            continue;
        memset(&info, 0, sizeof info);
        t_start(&r->t);
        DECODING_STATE s = (*dec)->DecodeFrameNoDelay(dec, aus[i], sizes[i], dst, &info);
        t_stop(&r->t);
        r->aus_in++;
        if (s != dsErrorFree) {
            r->call_errors++;
            *states |= s;
        }
        if (info.iBufferStatus == 1)
            r->frames_out++;
        if (r->aus_in - r->frames_out > r->max_delay)
            r->max_delay = r->aus_in - r->frames_out;
    }
    (*dec)->Uninitialize(dec);
    WelsDestroyDecoder(dec);
}

static int cmd_dec(int argc, char **argv)
{
    if (argc < 7)
        die("usage: dec avc|oh264 W H IN SKIP");
    const char *name = argv[5];
    int skip = atoi(argv[6]);
    char auname[4096];
    snprintf(auname, sizeof auname, "%s.au", name);
    FILE *in = fopen(name, "rb"), *au = fopen(auname, "r");
    if (!in || !au)
        die("cannot open the stream or its .au");
    int cap = 1024, n = 0, size, idr, *sizes = malloc(cap * sizeof *sizes);
    uint8_t **aus = malloc(cap * sizeof *aus);
    while (fscanf(au, "%d %d", &size, &idr) == 2 && n < cap) {
        sizes[n] = size;
        aus[n] = malloc(size + AV_INPUT_BUFFER_PADDING_SIZE);
        memset(aus[n] + size, 0, AV_INPUT_BUFFER_PADDING_SIZE);
        if (fread(aus[n], 1, size, in) != (size_t)size)
            die("short stream");
        n++;
    }
    DecRun r;
    memset(&r, 0, sizeof r);
    int states = 0;
    if (!strcmp(argv[2], "avc")) {
        dec_avc(aus, sizes, n, skip, &r);
        printf("aus=%ld frames_out=%ld cpu_ms=%.3f wall_ms=%.3f delay_frames=%ld call_errors=%ld flagged_frames=%ld "
               "log_errors=%d log_warnings=%d gap_logs=%d first_log=%s\n",
               r.aus_in, r.frames_out, r.t.cpu / r.aus_in, r.t.wall / r.aus_in, r.max_delay, r.call_errors,
               r.flagged_frames, av_errors, av_warnings, av_gap_logs, av_first[0] ? av_first : "-");
    } else {
        dec_oh264(aus, sizes, n, skip, &r, &states);
        printf("aus=%ld frames_out=%ld cpu_ms=%.3f wall_ms=%.3f delay_frames=%ld call_errors=%ld states=0x%x\n",
               r.aus_in, r.frames_out, r.t.cpu / r.aus_in, r.t.wall / r.aus_in, r.max_delay, r.call_errors, states);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 2 && !strcmp(argv[1], "enc"))
        return cmd_enc(argc, argv);
    if (argc > 2 && !strcmp(argv[1], "dec"))
        return cmd_dec(argc, argv);
    fprintf(stderr, "usage: choice enc ... | choice dec ... (see the comment at the top of choice.c)\n");
    return 2;
}
