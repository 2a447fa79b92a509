# One image for every Courier program: api, worker, agent and the admin CLI differ only by their command.
# Built in two stages: the first compiles the TypeScript and bundles the workflows (npm run build), the
# second holds only the compiled JavaScript and the production dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY common ./common
COPY trust ./trust
COPY db ./db
COPY api ./api
COPY activities ./activities
COPY workflows ./workflows
COPY worker ./worker
COPY agent ./agent
COPY cli ./cli
COPY scripts/build.ts ./scripts/build.ts
RUN npm run build

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm install --omit=dev --no-audit --no-fund
COPY --from=build /app/dist ./dist
USER node
CMD ["node", "dist/api/main.js"]
