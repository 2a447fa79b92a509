ALTER TABLE "computers" ADD COLUMN "labels" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
CREATE INDEX "computers_labels" ON "computers" USING gin ("labels" jsonb_path_ops);