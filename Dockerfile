# consent-relay container image.
#   docker build -t consent-relay .
#   docker run --network host -v relay-data:/data consent-relay serve --data-dir /data --upstream 127.0.0.1:25
# Host networking: listeners are loopback-only until AUTH/allowlists exist, so the relay must
# share the host's loopback with the mail clients / MTA that use it.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 builds its native addon when no prebuilt binary matches
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY bench ./bench
# `prepare` compiles TypeScript to dist/; then drop the dev dependencies
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app /app
COPY config ./config
COPY README.md LICENSE NOTICE ./
# 0700: the relay refuses a data directory others can read (a new named volume copies this mode)
RUN install -d -m 0700 -o node -g node /data
USER node
VOLUME ["/data"]
EXPOSE 2525
ENTRYPOINT ["node", "/app/bin/consent-relay.js"]
CMD ["serve", "--data-dir", "/data"]
