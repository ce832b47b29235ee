# syntax=docker/dockerfile:1
#
# Production image of the booking server: one static binary on distroless,
# running as a non-root user, with a built-in health check.
#
#   docker build --build-arg VERSION="$(git describe --tags --always)" -t booking .
#   docker run --env-file .env -p 3000:3000 booking
#
# The build flags below are checked by cmd/booking/release_test.go, which
# builds and runs a binary the same way: change both together.

FROM golang:1.26-bookworm AS build
WORKDIR /src

# Modules first, in their own layer: it is rebuilt only when go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download && go mod verify

COPY cmd ./cmd
COPY internal ./internal
ARG VERSION=dev
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$VERSION" -o /out/booking ./cmd/booking

# distroless/static: CA certificates, tzdata and /etc/passwd with the nonroot
# user (uid 65532); no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="booking" \
      org.opencontainers.image.description="Paid bookings confirmed by signed Stripe webhooks" \
      org.opencontainers.image.version="$VERSION"
COPY --from=build /out/booking /booking
USER 65532:65532
ENV APP_ENV=production \
    PORT=3000
EXPOSE 3000
# GET http://127.0.0.1:$PORT/health: 200 only while the database answers.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/booking", "healthcheck"]
ENTRYPOINT ["/booking"]
CMD ["serve"]
