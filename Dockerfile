# One image for every Courier program: api, worker and agent differ only by their command.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --omit=dev --no-audit --no-fund
COPY common ./common
COPY trust ./trust
COPY db ./db
COPY api ./api
COPY activities ./activities
COPY workflows ./workflows
COPY worker ./worker
COPY agent ./agent
COPY cli ./cli
USER node
ENV NODE_ENV=production
CMD ["node", "--import", "tsx", "api/main.ts"]
