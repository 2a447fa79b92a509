ALTER TABLE "computers" ADD COLUMN "last_seen_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "computers" ADD COLUMN "agent_version" text;--> statement-breakpoint
ALTER TABLE "computers" ADD COLUMN "os" text;--> statement-breakpoint
ALTER TABLE "relays" ADD COLUMN "last_seen_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "relays" ADD COLUMN "agent_version" text;--> statement-breakpoint
ALTER TABLE "relays" ADD COLUMN "os" text;